/* status.c -- status codes as words. */
#include "nncore.h"

const char *nc_status_string(nc_status status)
{
    switch (status) {
    case NC_OK: return "ok";
    case NC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case NC_ERR_NONFINITE: return "a value became NaN or infinite";
    case NC_ERR_OUT_OF_MEMORY: return "out of memory";
    case NC_ERR_INTERRUPTED: return "interrupted";
    case NC_ERR_WORKSPACE: return "workspace too small";
    }
    return "unknown status";
}

const char *nc_status_message(nc_status status)
{
    return nc_status_string(status);
}
