// An image as one stream (`ckpt dump -o -`, `ckpt restore -`): the files of
// the image directory, byte for byte, as a sequence of records
//
//   "ckpt-image-stream 1\n"
//   per file:  'F' u16 name length, name, u64 size, the bytes
//   at the end: 'E' u64 number of files
//
// (integers little-endian). The manifest comes last, after every file it
// checks, and the end record says the stream is whole: a receiver cannot
// verify anything before it has everything, so it keeps the files in a
// private directory and runs the usual readImage/verifyImage over them
// before it touches a process. The directory form stays the one format;
// the stream only carries it.
#pragma once

#include <string>

namespace ckpt::image {

// Writes the image directory `dir` to `fd`. Throws Error naming the file or
// the output (EPIPE when the reader went away).
void writeImageStream(const std::string& dir, int fd, const std::string& what);

// Reads a stream from `fd` into the new directory `dir` (created 0700).
// Throws Error when the stream is not one, is cut short ("the image stream
// ends inside pages-4242.img after 1234 of 5678 bytes"), or names a file
// that cannot be in an image; `what` names the input ("stdin").
void readImageStream(int fd, const std::string& dir, const std::string& what);

}  // namespace ckpt::image
