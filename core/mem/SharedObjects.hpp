// Memory objects whose content travels in the image (shared anonymous memory,
// SysV segments, memfds, files deleted while in use): saved once however many
// mappings and fds refer to them, recreated once and handed to every user.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt {

// The object behind `fd` (an fd of ckpt's onto the object: map_files or a
// duplicate of the program's fd), saved into the image unless it is there
// already. Returns its id.
int saveSharedObject(image::Image& img, image::ImageWriter& writer, int fd, image::VmaKind kind,
                     const std::string& name);

// Recreated objects, by id: an fd of ckpt's onto each (SysV segments too,
// through the segment's shm file, though processes attach them with shmat).
class SharedObjects {
 public:
  SharedObjects(const image::Image& img, const std::string& imageDir);
  ~SharedObjects();
  SharedObjects(const SharedObjects&) = delete;
  SharedObjects& operator=(const SharedObjects&) = delete;

  int fd(int id) const;
  const image::SharedObject& object(int id) const;
  // After every process has mapped its objects: seals, and IPC_RMID for
  // segments that were removed while attached.
  void finish();

 private:
  UniqueFd create(const image::SharedObject& o);
  const image::Image& img_;
  std::string imageDir_;
  std::map<int, UniqueFd> fds_;
  std::vector<int> sysvIds_;  // created, removed again if the restore fails
  bool finished_ = false;
};

}  // namespace ckpt
