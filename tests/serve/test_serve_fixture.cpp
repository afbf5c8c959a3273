// serve_fixture: writes the dashboard tests' store (used by the browser test, tests/serve/browser_test.mjs).
//   serve_fixture DB      a store with four runs, 5,000-step curves, samples (one with markup), a pipeline
#include <iostream>

#include "tests/serve/store_fixture.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: serve_fixture DB\n";
    return 2;
  }
  auto ids = r1::test::write_dashboard_store(argv[1]);
  std::cout << ids.alpha << " " << ids.beta << " " << ids.base << " " << ids.zero << "\n";
  return 0;
}
