#pragma once
#include <curl/curl.h>

/// curl_easy_setopt is variadic; one typed setter per kind of argument.
static inline CURLcode pingroll_curl_set_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode pingroll_curl_set_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode pingroll_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*pingroll_curl_data_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*pingroll_curl_progress_callback)(void *context, curl_off_t dltotal, curl_off_t dlnow,
                                               curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode pingroll_curl_set_data_callback(CURL *handle, CURLoption option, pingroll_curl_data_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode pingroll_curl_set_progress_callback(CURL *handle, pingroll_curl_progress_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

static inline long pingroll_curl_response_code(CURL *handle) {
    long code = 0;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &code);
    return code;
}
