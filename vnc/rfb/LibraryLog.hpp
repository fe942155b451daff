// libvncserver and libvncclient log through printf-style callbacks: one
// message as a line, without its trailing newlines.
#pragma once

#include <cstdarg>
#include <string>

namespace ckpt::vnc {

std::string formatLibraryLine(const char* format, va_list ap);

}  // namespace ckpt::vnc
