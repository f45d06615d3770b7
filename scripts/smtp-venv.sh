# Sourced by scripts/test.sh: a venv with aiosmtpd (PyPI, pinned), the SMTP server the
# subscription tests mail digests to; exports PINGROLL_SMTP_PYTHON.
aiosmtpd_version=1.4.6
smtp_venv="$PWD/.build-venv/smtp"
if ! "$smtp_venv/bin/python" -c "import aiosmtpd, importlib.metadata as m; assert m.version('aiosmtpd') == '$aiosmtpd_version'" 2>/dev/null; then
  rm -rf "$smtp_venv"
  /usr/bin/python3 -m venv "$smtp_venv"
  "$smtp_venv/bin/pip" install --quiet --disable-pip-version-check "aiosmtpd==$aiosmtpd_version"
fi
export PINGROLL_SMTP_PYTHON="$smtp_venv/bin/python"
