// Readers of /proc files and links: whole contents in one string, errors that
// name the path. What the text means is ProcParsers' business.
#pragma once

#include <string>

namespace ckpt::proc {

// The whole file. /proc files report size 0 and may come in pieces, so this
// reads until end of file. Throws SysError naming the path.
std::string readProcFile(const std::string& path);

// The target of a symbolic link (/proc/PID/exe, /proc/PID/fd/N, ...), however
// long. Throws SysError naming the path.
std::string readLink(const std::string& path);

}  // namespace ckpt::proc
