// vigilctl's tables of alerts, events and the fleet report's workload lists.
// Pure functions of the protos, unit-tested (tests/unit/cli_format_test.cpp).
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include <string>
#include <string_view>

#include "vigil/cli/format.h"
#include "vigil/v1/query.pb.h"

namespace vigil::cli {

// An alert's hosts, comma-separated; its ATT&CK ids ("-" for none).
[[nodiscard]] std::string alert_hosts(const v1::Alert& a);
[[nodiscard]] std::string alert_attack(const v1::Alert& a);

// The container column: its name, else its id cut to the 12 characters
// `docker ps` shows; "-" for the host.
[[nodiscard]] std::string container_cell(const v1::Event& e);
// The pod column: "namespace/pod" (or the pod uid when the name is not
// known); "-" outside a pod.
[[nodiscard]] std::string pod_cell(const v1::Event& e);
[[nodiscard]] std::string image_cell(const v1::Event& e);

// Alerts, newest first as given. CONTAINER, POD and IMAGE columns appear
// only when one of the alerts came from a container.
[[nodiscard]] Table alerts_table(const google::protobuf::RepeatedPtrField<v1::Alert>& alerts);
// Stored events; CONTAINER and POD columns as alerts_table's.
[[nodiscard]] Table events_table(const google::protobuf::RepeatedPtrField<v1::StoredEvent>& events);
// A report's workload list ("POD", "K8S NAMESPACE", "IMAGE" as `key_header`).
[[nodiscard]] Table groups_table(std::string_view key_header,
                                 const google::protobuf::RepeatedPtrField<v1::GroupReport>& groups);
// The workload part of a live alert line: " container=... pod=... image=..."
// for the parts known, "" for the host.
[[nodiscard]] std::string workload_words(const v1::Event& e);

}  // namespace vigil::cli
