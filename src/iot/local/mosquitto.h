// MosquittoSupervisor: runs the Mosquitto broker as a child process with a
// configuration generated in the data directory, and keeps it running.
//
// Two listeners (broker-notes.md section 2):
//   - devices: mutual TLS on para.iot.local.port; the certificate CN is the
//     username and the forced client id, and the ACL pattern
//     `$aws/things/%u/shadow/#` confines each device to its own shadows;
//   - service: loopback only, password-protected, for para-server's own
//     MQTT client (shadow service and device kicks).
// If the broker dies it is restarted with exponential backoff; it dies with
// para-server (PR_SET_PDEATHSIG), and a broker left behind by a killed
// para-server is stopped at the next start (pid file).
//
// Thread-safety: all methods may be called from any thread.
// Errors: start() returns kUnavailable if mosquitto is missing or does not
// come up (with its own error message); reload() kUnavailable if not running.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"

namespace para::iot {

struct MosquittoOptions {
  std::string executable = "/usr/sbin/mosquitto";
  std::string directory;  // config, ACLs, password file, pid file, log
  std::string bind_address = "0.0.0.0";
  int device_port = 8883;
  int service_port = 0;  // loopback listener; 0 picks a free port at start()
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string crl_file;
  std::string service_user = "svc.para";
  std::string service_password;  // random per start; never written in clear
};

class MosquittoSupervisor {
 public:
  explicit MosquittoSupervisor(MosquittoOptions options);
  ~MosquittoSupervisor();  // stops the broker
  MosquittoSupervisor(const MosquittoSupervisor&) = delete;
  MosquittoSupervisor& operator=(const MosquittoSupervisor&) = delete;

  // Writes the configuration and starts the broker; returns once its service
  // listener accepts connections.
  Status start();

  // Makes the broker re-read its CRL, ACL and password files (SIGHUP) and
  // returns once it has (it logs "Reloading config." before serving again).
  Status reload();

  // Stops the broker (SIGTERM, then SIGKILL after 5 s) and the supervision.
  void stop();

  int service_port() const { return options_.service_port; }
  const MosquittoOptions& options() const { return options_; }
  bool running() const;

 private:
  Status write_files();
  Status spawn_locked();
  void supervise();
  void read_log(int fd);
  void stop_stale_broker();

  MosquittoOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  pid_t pid_ = -1;                  // guarded by mutex_
  bool stopping_ = false;           // guarded by mutex_
  std::uint64_t reloads_seen_ = 0;  // "Reloading config." lines; guarded by mutex_
  int log_fd_ = -1;                 // read end of the broker's stderr; guarded by mutex_
  std::thread supervisor_;
};

// Picks a free TCP port on 127.0.0.1 (bind to port 0, read it, release it).
Result<int> pick_free_loopback_port();

// A Mosquitto 2.x password-file line: user:$7$101$<salt>$<PBKDF2-SHA512>.
std::string mosquitto_password_line(const std::string& user, const std::string& password);

}  // namespace para::iot
