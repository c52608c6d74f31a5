#include "core/error.h"

#include <stdexcept>

namespace para {

void throw_exception_from_error(const Error& e, const boost::source_location& loc) {
  throw std::logic_error("unchecked Result error at " + std::string(loc.file_name()) + ":" +
                         std::to_string(loc.line()) + ": " + e.message);
}

}  // namespace para
