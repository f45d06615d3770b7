#pragma once
#include <libpq-fe.h>

/// PG_DIAG_SQLSTATE is a macro ('C'); Swift cannot import it.
static inline const char *pingroll_pq_sqlstate(const PGresult *result) {
    return PQresultErrorField(result, 'C');
}
