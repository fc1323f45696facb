"""Container images agree with the task definitions that run them (infra/vieweratlas.yaml).

ECS creates a task volume's mount point root-owned 0755 unless the image declares
that path as a ``VOLUME``, in which case it copies the image's directory (owner and
mode included). Our images run as a non-root user on a read-only root filesystem, so
every mount point must be a ``VOLUME`` whose directory the image's ``USER`` owns.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "infra" / "vieweratlas.yaml"


@dataclass
class Image:
    """What the final stage of a Dockerfile declares about users and volumes."""

    user: str = ""
    uids: dict[str, str] = field(default_factory=dict)  # user name -> uid (useradd --uid)
    owners: dict[str, str] = field(default_factory=dict)  # path -> owner set by RUN
    volumes: dict[str, str] = field(default_factory=dict)  # VOLUME path -> owner at VOLUME

    def uid(self, name: str) -> str:
        return self.uids.get(name, name)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined; heredoc bodies skipped."""
    out: list[tuple[str, str]] = []
    lines = iter(text.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + " " + next(lines)
        keyword, _, args = line.strip().partition(" ")
        if "<<'" in args or "<<EOF" in args:
            marker = re.search(r"<<'?(\w+)'?", args).group(1)
            for body in lines:
                if body.strip() == marker:
                    break
        out.append((keyword.upper(), args.strip()))
    return out


def _ownership(command: str, image: Image) -> None:
    """Owners set by ``install -d -o U path`` / ``chown U path``; uids from useradd."""
    for part in re.split(r"&&|;", command):
        words = shlex.split(part)
        if not words:
            continue
        if words[0] == "useradd" and "--uid" in words:
            image.uids[words[-1]] = words[words.index("--uid") + 1]
        elif words[0] == "install" and "-d" in words and "-o" in words:
            owner = words[words.index("-o") + 1]
            skip = {words.index("-o") + 1}
            skip |= {words.index(f) + 1 for f in ("-m", "-g") if f in words}
            for i, word in enumerate(words[1:], start=1):
                if i not in skip and not word.startswith("-"):
                    image.owners[word.rstrip("/")] = owner
        elif words[0] == "chown":
            args = [w for w in words[1:] if not w.startswith("-")]
            for path in args[1:]:
                image.owners[path.rstrip("/")] = args[0].split(":")[0]


def parse_dockerfile(path: Path) -> Image:
    """The final stage's USER, the VOLUMEs and who owns each volume's directory."""
    image = Image()
    for keyword, args in instructions(path.read_text()):
        if keyword == "FROM":
            image = Image()
        elif keyword == "USER":
            image.user = args.split(":")[0]
        elif keyword == "RUN":
            _ownership(args, image)
        elif keyword == "VOLUME":
            paths = json.loads(args) if args.startswith("[") else args.split()
            for volume in (p.rstrip("/") for p in paths):
                # Frozen here: Docker discards later build changes inside a volume.
                image.volumes[volume] = image.owners.get(volume, "root")
    return image


def owned_volumes(image: Image) -> set[str]:
    """Volumes whose directory belongs to the image's USER (by name or uid)."""
    user = image.uid(image.user)
    return {path for path, owner in image.volumes.items() if image.uid(owner) == user}


def task_containers() -> list[tuple[str, str, Path, list[str]]]:
    """(task definition, container, Dockerfile, mount paths) from the template.

    The image's repository ``${EnvironmentName}/<name>`` is built from
    ``docker/<name>.Dockerfile``.
    """
    decoded, problems = decode(str(TEMPLATE_PATH))
    assert not problems, problems
    template = json.loads(json.dumps(decoded, default=str))
    res = template["Resources"]
    found = []
    for name, resource in res.items():
        if resource["Type"] != "AWS::ECS::TaskDefinition":
            continue
        for container in resource["Properties"]["ContainerDefinitions"]:
            assert "User" not in container, "the image's USER is what the volumes are checked for"
            repo = re.match(r"\$\{(\w+)\.RepositoryUri\}", container["Image"]["Fn::Sub"]).group(1)
            repo_name = res[repo]["Properties"]["RepositoryName"]["Fn::Sub"].rsplit("/", 1)[1]
            dockerfile = ROOT / "docker" / f"{repo_name}.Dockerfile"
            mounts = [m["ContainerPath"] for m in container.get("MountPoints", [])]
            found.append((name, container["Name"], dockerfile, mounts))
    return found


CONTAINERS = task_containers()


def test_every_task_definition_is_checked():
    assert {c[0] for c in CONTAINERS} == {"CollectorTaskDefinition", "VodTaskDefinition"}
    assert all(mounts for *_, mounts in CONTAINERS)


@pytest.mark.parametrize("task, container, dockerfile, mounts", CONTAINERS, ids=lambda x: str(x))
def test_mount_points_are_volumes_the_image_user_owns(task, container, dockerfile, mounts):
    image = parse_dockerfile(dockerfile)
    assert image.user and image.uid(image.user) not in {"0", "root"}, f"{dockerfile.name}: root"
    missing = sorted(set(mounts) - set(image.volumes))
    assert not missing, f"{task}/{container} mounts {missing}: not a VOLUME of {dockerfile.name}"
    not_owned = sorted(set(mounts) - owned_volumes(image))
    assert not not_owned, (
        f"{task}/{container}: {not_owned} would be root-owned 0755 in the task; "
        f"create them owned by {image.user} before VOLUME in {dockerfile.name}"
    )


def test_the_parser_sees_a_root_owned_volume(tmp_path):
    """The check itself: a VOLUME made before the chown, or never chowned, is not owned."""
    dockerfile = tmp_path / "x.Dockerfile"
    dockerfile.write_text(
        "FROM python:3.12-slim\n"
        "RUN useradd --system --uid 10002 app \\\n && install -d -o app /data\n"
        'VOLUME ["/tmp"]\nVOLUME /data\nRUN chown app /tmp\nUSER 10002\n'
    )
    image = parse_dockerfile(dockerfile)
    assert set(image.volumes) == {"/tmp", "/data"}
    assert owned_volumes(image) == {"/data"}
