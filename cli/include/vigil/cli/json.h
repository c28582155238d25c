// --json output shared by vigilctl's commands: one message as proto3 JSON with
// the proto's own field names, on one line.
#pragma once

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <string>

namespace vigil::cli {

inline void print_json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions jo;
  jo.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, jo);
  std::cout << out << '\n';
}

}  // namespace vigil::cli
