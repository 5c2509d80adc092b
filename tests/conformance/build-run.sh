#!/bin/sh
# Compiles one conformance translation unit and runs it: a declaration that
# does not match ours fails the compile, a wrong answer the run.
# Usage: build-run.sh OUT COMPILER ARGS...   (ARGS: flags, the source, the libraries)
set -e
out=$1
shift
"$@" -o "$out"
"$out"
