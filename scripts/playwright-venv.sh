# Sourced by scripts/test.sh: a venv with Playwright for Python (PyPI, pinned), which drives
# Debian's Chromium in the interactive browser tests; exports PINGROLL_PLAYWRIGHT_PYTHON.
playwright_version=1.49.1
playwright_venv="$PWD/.build-venv/playwright"
if ! "$playwright_venv/bin/python" -c "import playwright, importlib.metadata as m; assert m.version('playwright') == '$playwright_version'" 2>/dev/null; then
  rm -rf "$playwright_venv"
  /usr/bin/python3 -m venv "$playwright_venv"
  "$playwright_venv/bin/pip" install --quiet --disable-pip-version-check "playwright==$playwright_version"
fi
export PINGROLL_PLAYWRIGHT_PYTHON="$playwright_venv/bin/python"
