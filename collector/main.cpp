#include "vigil/collector/collector.h"

int main(int argc, char** argv) {
  auto args = vigil::collector::parse_args(argc, argv);
  if (args.exit_now) {
    return args.exit_code;
  }
  return vigil::collector::run(args.config);
}
