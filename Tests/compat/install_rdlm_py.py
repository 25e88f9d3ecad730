"""Installs rdlm-py 0.2.0, the original RDLM's Python client, from PyPI.

Its source package does not install as published: setup.py reads a pip-requirements.txt
that the archive lacks. So: fetch the archive from PyPI's simple index, check its sha256
against the index, add that one-line file, and install it without build isolation.
"""
import hashlib
import html.parser
import io
import pathlib
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

INDEX = "https://pypi.org/simple/rdlm-py/"
ARCHIVE = "rdlm-py-0.2.0.tar.gz"


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href")


def main():
    with urllib.request.urlopen(INDEX, timeout=60) as response:
        links = Links()
        links.feed(response.read().decode())
    href = next(h for h in links.hrefs if h.split("#")[0].endswith("/" + ARCHIVE))
    url, _, fragment = href.partition("#sha256=")
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if fragment and digest != fragment:
        sys.exit(f"{ARCHIVE}: sha256 {digest} does not match the index's {fragment}")
    with tempfile.TemporaryDirectory() as work:
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(work)
        source = pathlib.Path(work) / "rdlm-py-0.2.0"
        (source / "pip-requirements.txt").write_text("requests\n")
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", str(source)])


if __name__ == "__main__":
    main()
