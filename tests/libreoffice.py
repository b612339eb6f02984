"""Word files to PDF with LibreOffice (Debian's libreoffice-writer-nogui), as offices publish them.

A missing ``soffice`` fails the test in CI (which installs it with apt-get); on a developer's
machine without it the test is skipped, naming the package. LibreOffice uses the machine's
fonts; where the machine has no CJK font at all, the test font (``tests/pdf_fonts.py``) is
added to fontconfig's for the conversion, so the PDFs still have CJK text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .pdf_fonts import cjk_font

PACKAGE = "libreoffice-writer-nogui"
#: seconds for a LibreOffice run: a start, then each file (generous: CI machines may be busy)
TIMEOUT_START, TIMEOUT_PER_FILE = 120, 10


def soffice() -> str:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        message = f"soffice is missing: the LibreOffice tests need Debian's LibreOffice (apt-get install {PACKAGE})"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    return path


def system_has_cjk_font(env: dict) -> bool:
    if not shutil.which("fc-list"):
        return False
    listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, env=env, check=False)
    return bool(listed.stdout.strip())


def convert(files: list[Path], work: Path) -> list[Path]:
    """Each .docx in ``files`` as a PDF beside it, by one headless LibreOffice run."""
    program = soffice()
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HOME=str(work))
    if not system_has_cjk_font(env):
        conf = work / "fonts.conf"
        base = os.environ.get("FONTCONFIG_FILE", "/etc/fonts/fonts.conf")
        conf.write_text(
            f'<?xml version="1.0"?>\n<fontconfig><include ignore_missing="yes">{base}</include>'
            f"<dir>{cjk_font('glyf').parent}</dir><cachedir>{work / 'fontcache'}</cachedir></fontconfig>\n",
            encoding="utf-8",
        )
        env["FONTCONFIG_FILE"] = str(conf)
    out = files[0].parent
    command = [program, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--norestore",
               "--convert-to", "pdf", "--outdir", str(out), *map(str, files)]
    timeout = TIMEOUT_START + TIMEOUT_PER_FILE * len(files)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    pdfs = [out / f"{path.stem}.pdf" for path in files]
    missing = [path.name for path in pdfs if not path.is_file()]
    assert not missing, f"LibreOffice made no PDF of {missing}: {done.stdout}\n{done.stderr}"
    return pdfs
