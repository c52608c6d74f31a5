// MQTT load generator and echo responder for bench/ (libmosquitto, threaded
// loops, TCP_NODELAY), the method of ../shared/reference/broker-notes.md
// section 6.
//
//   para_mqtt_bench rr --port P --cafile CA --devices FILE --window W --qos Q
//                      [--host localhost] [--warmup S] [--seconds S]
//     FILE: one device per line: "<client id> <cert file> <key file>".
//     Every device connects over mutual TLS, subscribes to
//     $aws/things/<id>/shadow/update/{accepted,rejected} and keeps W update
//     requests outstanding on $aws/things/<id>/shadow/update, each a ~80 byte
//     reported-state document with a clientToken that identifies the request.
//     A request completes when an accepted (or rejected) document with its
//     clientToken arrives; then the next one is sent at once (closed loop).
//     Prints one JSON line: round trips/s and latency percentiles over the
//     measured window (after the warm-up), rejects and timeouts.
//
//   para_mqtt_bench echo --port P --user U --password PW [--host 127.0.0.1]
//     The raw baseline's responder: subscribes (QoS 1) to
//     $aws/things/+/shadow/update and republishes each payload unchanged on
//     "<topic>/accepted" with the QoS it arrived with. Prints "ready" once
//     subscribed; runs until SIGTERM/SIGINT.
#include <mosquitto.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "para_mqtt_bench: %s\n", why.c_str());
  std::exit(2);
}

struct Args {
  std::map<std::string, std::string> values;
  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = values.find(key);
    if (it != values.end()) return it->second;
    if (fallback.empty()) die("missing --" + key);
    return fallback;
  }
};

Args parse_args(int argc, char** argv, int first) {
  Args args;
  for (int i = first; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) die("unexpected argument " + key);
    args.values[key.substr(2)] = argv[i + 1];
  }
  return args;
}

// ------------------------------------------------------------------- rr ---

struct Slot {
  std::uint64_t gen = 0;
  std::int64_t sent_ns = 0;
  bool busy = false;
};

struct Shared {
  std::atomic<bool> running{true};
  std::atomic<std::int64_t> window_start{0};
  std::atomic<std::int64_t> window_end{0};
  int qos = 0;
};

struct Device {
  Shared* shared = nullptr;
  mosquitto* mosq = nullptr;
  std::string id, cert, key;
  std::string request_topic;
  std::mutex mu;
  std::condition_variable cv;
  bool connected = false;
  bool subscribed = false;
  int connect_rc = -1;
  std::vector<Slot> slots;
  std::vector<std::uint32_t> latencies_us;  // completions inside the window
  std::uint64_t completed_total = 0;
  std::uint64_t completed_window = 0;
  std::uint64_t rejected = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t stray = 0;
  std::uint64_t publish_errors = 0;

  // Sends the request of slot `s` (mu held).
  void send(std::size_t s) {
    Slot& slot = slots[s];
    ++slot.gen;
    slot.busy = true;
    slot.sent_ns = now_ns();
    char payload[160];
    int n = std::snprintf(
        payload, sizeof payload,
        R"({"state":{"reported":{"seq":%llu,"slot":%zu}},"clientToken":"%zu-%llu"})",
        static_cast<unsigned long long>(slot.gen), s, s, static_cast<unsigned long long>(slot.gen));
    int rc =
        mosquitto_publish(mosq, nullptr, request_topic.c_str(), n, payload, shared->qos, false);
    if (rc != MOSQ_ERR_SUCCESS) ++publish_errors;
  }
};

void on_connect(mosquitto* mosq, void* p, int rc) {
  auto* d = static_cast<Device*>(p);
  {
    std::lock_guard lock(d->mu);
    d->connect_rc = rc;
    d->connected = rc == 0;
  }
  d->cv.notify_all();
  if (rc != 0) return;
  std::string accepted = d->request_topic + "/accepted";
  std::string rejected = d->request_topic + "/rejected";
  char* topics[] = {accepted.data(), rejected.data()};
  mosquitto_subscribe_multiple(mosq, nullptr, 2, topics, d->shared->qos, 0, nullptr);
}

void on_subscribe(mosquitto*, void* p, int, int count, const int* granted) {
  auto* d = static_cast<Device*>(p);
  bool ok = true;
  for (int i = 0; i < count; ++i)
    ok = ok && granted[i] <= 2;
  {
    std::lock_guard lock(d->mu);
    d->subscribed = ok;
  }
  d->cv.notify_all();
}

void on_message(mosquitto*, void* p, const mosquitto_message* m) {
  auto* d = static_cast<Device*>(p);
  const std::int64_t t = now_ns();
  std::string_view payload(static_cast<const char*>(m->payload),
                           static_cast<std::size_t>(m->payloadlen));
  std::string_view topic(m->topic);
  constexpr std::string_view kToken = "\"clientToken\":\"";
  auto at = payload.rfind(kToken);
  std::lock_guard lock(d->mu);
  if (at == std::string_view::npos) {
    ++d->stray;
    return;
  }
  std::size_t slot = 0;
  unsigned long long gen = 0;
  if (std::sscanf(payload.data() + at + kToken.size(), "%zu-%llu", &slot, &gen) != 2 ||
      slot >= d->slots.size() || !d->slots[slot].busy || d->slots[slot].gen != gen) {
    ++d->stray;  // a reply to a request already timed out, or not ours
    return;
  }
  Slot& s = d->slots[slot];
  s.busy = false;
  ++d->completed_total;
  if (topic.ends_with("/rejected")) ++d->rejected;
  const std::int64_t ws = d->shared->window_start.load(), we = d->shared->window_end.load();
  if (ws != 0 && t >= ws && t < we) {
    ++d->completed_window;
    d->latencies_us.push_back(
        static_cast<std::uint32_t>(std::min<std::int64_t>((t - s.sent_ns) / 1000, UINT32_MAX)));
  }
  if (d->shared->running.load()) d->send(slot);
}

std::vector<std::unique_ptr<Device>> read_devices(const std::string& file, Shared* shared,
                                                  std::size_t window) {
  std::ifstream in(file);
  if (!in) die("cannot read " + file);
  std::vector<std::unique_ptr<Device>> devices;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    auto d = std::make_unique<Device>();
    if (!(fields >> d->id >> d->cert >> d->key)) continue;
    d->shared = shared;
    d->request_topic = "$aws/things/" + d->id + "/shadow/update";
    d->slots.resize(window);
    d->latencies_us.reserve(1 << 16);
    devices.push_back(std::move(d));
  }
  if (devices.empty()) die("no devices in " + file);
  return devices;
}

double percentile(std::vector<std::uint32_t>& v, double p) {
  if (v.empty()) return 0;
  std::size_t i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

int run_rr(const Args& args) {
  Shared shared;
  shared.qos = std::stoi(args.get("qos", "0"));
  const std::string host = args.get("host", "localhost");
  const int port = std::stoi(args.get("port"));
  const std::string cafile = args.get("cafile");
  const std::size_t window = std::stoul(args.get("window", "1"));
  const double warmup = std::stod(args.get("warmup", "1"));
  const double seconds = std::stod(args.get("seconds", "4"));
  auto devices = read_devices(args.get("devices"), &shared, window);

  for (auto& d : devices) {
    d->mosq = mosquitto_new(d->id.c_str(), true, d.get());
    if (!d->mosq) die("mosquitto_new failed");
    mosquitto_int_option(d->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_max_inflight_messages_set(d->mosq, 0);
    if (mosquitto_tls_set(d->mosq, cafile.c_str(), nullptr, d->cert.c_str(), d->key.c_str(),
                          nullptr) != MOSQ_ERR_SUCCESS)
      die("mosquitto_tls_set failed for " + d->id);
    mosquitto_connect_callback_set(d->mosq, on_connect);
    mosquitto_subscribe_callback_set(d->mosq, on_subscribe);
    mosquitto_message_callback_set(d->mosq, on_message);
    if (int rc = mosquitto_connect_async(d->mosq, host.c_str(), port, 60); rc != MOSQ_ERR_SUCCESS)
      die(std::string("connect: ") + mosquitto_strerror(rc));
    if (mosquitto_loop_start(d->mosq) != MOSQ_ERR_SUCCESS) die("loop_start failed");
  }
  for (auto& d : devices) {
    std::unique_lock lock(d->mu);
    if (!d->cv.wait_for(lock, std::chrono::seconds(20), [&] { return d->subscribed; }))
      die("device " + d->id + " did not connect/subscribe (connack " +
          std::to_string(d->connect_rc) + ")");
  }

  const std::int64_t t0 = now_ns();
  shared.window_start = t0 + static_cast<std::int64_t>(warmup * 1e9);
  shared.window_end = shared.window_start + static_cast<std::int64_t>(seconds * 1e9);
  for (auto& d : devices) {
    std::lock_guard lock(d->mu);
    for (std::size_t s = 0; s < window; ++s)
      d->send(s);
  }
  // Requests without an answer after 5 s count as timeouts and are re-sent,
  // so a lost QoS 0 message does not shrink the window for good.
  constexpr std::int64_t kTimeoutNs = 5'000'000'000;
  while (now_ns() < shared.window_end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::int64_t t = now_ns();
    for (auto& d : devices) {
      std::lock_guard lock(d->mu);
      for (std::size_t s = 0; s < window; ++s) {
        if (d->slots[s].busy && t - d->slots[s].sent_ns > kTimeoutNs) {
          ++d->timeouts;
          d->send(s);
        }
      }
    }
  }
  shared.running = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the last replies drain
  for (auto& d : devices) {
    mosquitto_disconnect(d->mosq);
    mosquitto_loop_stop(d->mosq, false);
  }

  std::vector<std::uint32_t> all;
  std::uint64_t completed = 0, total = 0, rejected = 0, timeouts = 0, stray = 0, perr = 0;
  for (auto& d : devices) {
    std::lock_guard lock(d->mu);
    all.insert(all.end(), d->latencies_us.begin(), d->latencies_us.end());
    completed += d->completed_window;
    total += d->completed_total;
    rejected += d->rejected;
    timeouts += d->timeouts;
    stray += d->stray;
    perr += d->publish_errors;
  }
  for (auto& d : devices)
    mosquitto_destroy(d->mosq);
  double p50 = percentile(all, 50), p90 = percentile(all, 90), p99 = percentile(all, 99);
  std::printf(
      "{\"devices\":%zu,\"window\":%zu,\"qos\":%d,\"seconds\":%.3f,\"rate\":%.1f,\"completed\":%"
      "llu,"
      "\"completed_total\":%llu,\"rejected\":%llu,\"timeouts\":%llu,\"stray\":%llu,"
      "\"publish_errors\":%llu,\"p50_us\":%.0f,\"p90_us\":%.0f,\"p99_us\":%.0f}\n",
      devices.size(), window, shared.qos, seconds, static_cast<double>(completed) / seconds,
      static_cast<unsigned long long>(completed), static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(rejected), static_cast<unsigned long long>(timeouts),
      static_cast<unsigned long long>(stray), static_cast<unsigned long long>(perr), p50, p90, p99);
  return rejected == 0 && timeouts == 0 && perr == 0 ? 0 : 1;
}

// ----------------------------------------------------------------- echo ---

std::atomic<bool> g_ready{false};
std::mutex g_mu;
std::condition_variable g_cv;

void echo_on_connect(mosquitto* mosq, void*, int rc) {
  if (rc != 0) {
    std::fprintf(stderr, "echo: connack %d\n", rc);
    return;
  }
  mosquitto_subscribe(mosq, nullptr, "$aws/things/+/shadow/update", 1);
}

void echo_on_subscribe(mosquitto*, void*, int, int count, const int* granted) {
  if (count >= 1 && granted[0] <= 2) {
    g_ready = true;
    g_cv.notify_all();
  }
}

void echo_on_message(mosquitto* mosq, void*, const mosquitto_message* m) {
  std::string topic = std::string(m->topic) + "/accepted";
  mosquitto_publish(mosq, nullptr, topic.c_str(), m->payloadlen, m->payload, m->qos, false);
}

int run_echo(const Args& args) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts

  mosquitto* mosq = mosquitto_new("bench-echo", true, nullptr);
  if (!mosq) die("mosquitto_new failed");
  mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_max_inflight_messages_set(mosq, 0);
  mosquitto_username_pw_set(mosq, args.get("user").c_str(), args.get("password").c_str());
  mosquitto_connect_callback_set(mosq, echo_on_connect);
  mosquitto_subscribe_callback_set(mosq, echo_on_subscribe);
  mosquitto_message_callback_set(mosq, echo_on_message);
  if (int rc = mosquitto_connect_async(mosq, args.get("host", "127.0.0.1").c_str(),
                                       std::stoi(args.get("port")), 60);
      rc != MOSQ_ERR_SUCCESS)
    die(std::string("connect: ") + mosquitto_strerror(rc));
  if (mosquitto_loop_start(mosq) != MOSQ_ERR_SUCCESS) die("loop_start failed");
  {
    std::unique_lock lock(g_mu);
    if (!g_cv.wait_for(lock, std::chrono::seconds(20), [] { return g_ready.load(); }))
      die("echo responder could not connect/subscribe");
  }
  std::printf("ready\n");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  mosquitto_disconnect(mosq);
  mosquitto_loop_stop(mosq, false);
  mosquitto_destroy(mosq);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: para_mqtt_bench rr|echo --key value ...");
  std::signal(SIGPIPE, SIG_IGN);
  mosquitto_lib_init();
  const std::string mode = argv[1];
  Args args = parse_args(argc, argv, 2);
  int rc = mode == "rr"     ? run_rr(args)
           : mode == "echo" ? run_echo(args)
                            : (die("unknown mode " + mode), 2);
  mosquitto_lib_cleanup();
  return rc;
}
