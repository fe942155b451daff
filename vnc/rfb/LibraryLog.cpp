// One line from a libvnc log callback (see LibraryLog.hpp).
#include "vnc/rfb/LibraryLog.hpp"

#include <cstdio>

namespace ckpt::vnc {

std::string formatLibraryLine(const char* format, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, format, ap);
  std::string line(buf);
  while (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

}  // namespace ckpt::vnc
