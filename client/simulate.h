/* practice simulate: a clinic day played against a server whose clock runs fast
 * (simulate.c). */
#ifndef SIMULATE_H
#define SIMULATE_H

#include "cli.h"

extern const cli_cmd cli_simulate_cmds[]; /* simulate */

#endif
