/*
 * Python values of a C config struct, from its configuration table (the rows
 * of src/util/util_conf.h): every row with a Python name is one attribute.
 * Strings, bools and integers of the row's width map directly (a row with a
 * shift in its units: log_rotation_file_size in MB); a size is an int of
 * bytes (the classes turn the seed's text, "10GB", into one); an enum (log
 * level, protocol) reads back as its name and takes a name or an int; a group
 * (a TLS block) with UTIL_CONF_F_FLAT is one attribute per field
 * ("tls_ca_path", as the seed's bindings), else None when disabled or a dict /
 * object of its own rows.
 */
#ifndef PY_CONF_H
#define PY_CONF_H

#include "py_common.h"
#include "util/util_conf.h"

PyObject *py_conf_to_dict(const util_conf_spec_t *rows, size_t n, const void *base);
/* o: a dict (missing keys keep base's value) or an object with every attribute; cls names it in errors. */
int py_conf_from_obj(const util_conf_spec_t *rows, size_t n, PyObject *o, void *base, const char *cls);
/* The Python names of the size rows (the classes accept "10GB" for them). */
PyObject *py_conf_size_names(const util_conf_spec_t *rows, size_t n);
/* The Python names, in table order. */
PyObject *py_conf_names(const util_conf_spec_t *rows, size_t n);
/* [(python name, config key or None, default text or None)], for tests that hold the classes to the table. */
PyObject *py_conf_rows(const util_conf_spec_t *rows, size_t n);

#endif
