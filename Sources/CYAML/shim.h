#ifndef STOWAGE_CYAML_SHIM_H
#define STOWAGE_CYAML_SHIM_H
#include <yaml.h>
#endif
