// Compiles the shared precompiled header for every torch target (see cmake/R1Targets.cmake).
#include <torch/torch.h>
