"""The parts of a deployment on several machines, really started on this one.

`ObjectStore` is an S3-compatible server in a process of its own (moto's standalone
server), on a loopback port. `SecondHost` is a Celery worker on "another machine": its
own network namespace, joined to this host by a veth pair in a private /30, and its own
mount namespace, in which the web host's media folder and data/ are hidden under empty
tmpfs mounts; the model files it needs are copied into a scratch folder of its own. It
reaches Redis, the object store (and PostgreSQL, where the tests run on it) only over
the veth link, through socat forwarders bound to the host end of the link.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.conftest import ROOT, Process, wait_for

BUCKET = "studio-test"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "studio-test-key",
    "AWS_SECRET_ACCESS_KEY": "studio-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def listening(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class ObjectStore:
    """moto's S3 server on 127.0.0.1:`port`, with the bucket the site uses."""

    def __init__(self, log_dir: Path, port: int) -> None:
        self.log_dir, self.port, self.proc = log_dir, port, None
        self.starts = 0

    def url(self, host: str = "127.0.0.1") -> str:
        return f"s3://{BUCKET}/media?endpoint=http://{host}:{self.port}&region=us-east-1"

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def start(self) -> None:
        self.starts += 1
        self.proc = Process(
            f"s3-{self.port}-{self.starts}",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            {**os.environ, **CREDENTIALS},
            self.log_dir,
        )
        wait_for(lambda: listening("127.0.0.1", self.port), timeout=60, what="the S3 server")
        client = self.client()
        if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
            client.create_bucket(Bucket=BUCKET)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object under `prefix` (a key relative to the site's location), whole."""
        client, out = self.client(), {}
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKET, Prefix=f"media/{prefix}"
        )
        for page in pages:
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
                out[item["Key"].removeprefix("media/")] = body
        return out

    @contextlib.contextmanager
    def down(self):
        """The server stopped (SIGKILL) for the block, then started again with the
        objects it held, as a store with disks would (moto keeps them in memory only)."""
        kept = self.objects()
        self.proc.kill(signal.SIGKILL)
        self.stop()
        try:
            yield
        finally:
            self.start()
            client = self.client()
            present = set(self.objects())
            for key, body in kept.items():
                if key not in present:  # never over what a worker wrote since
                    client.put_object(Bucket=BUCKET, Key=f"media/{key}", Body=body)

    def restart(self, down_s: float) -> None:
        """Down for `down_s`, then back."""
        with self.down():
            time.sleep(down_s)


def namespaces_unavailable() -> str:
    """Why a second host cannot be made here ("" when it can)."""
    if os.geteuid() != 0:
        return "network and mount namespaces need root"
    for tool in ("ip", "unshare", "socat", "mount"):
        if not shutil.which(tool):
            return f"`{tool}` is not installed"
    probe = f"cnnst-probe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class SecondHost:
    """Another machine for one test module: a namespace, a veth link, forwarders."""

    def __init__(self, log_dir: Path, scratch: Path) -> None:
        tag = f"{os.getpid() % 100000}"
        self.netns = f"cnnst-{tag}"
        self.veth_host, self.veth_ns = f"cnnst-{tag}h", f"cnnst-{tag}n"  # at most 15 chars
        self.log_dir, self.scratch = log_dir, scratch
        self.host_ip, self.ns_ip = self._free_subnet()
        self.forwarders: list[Process] = []
        self.workers: list[Process] = []

    @staticmethod
    def _free_subnet() -> tuple[str, str]:
        """A /30 in 10.231.0.0/16 that no interface of this machine uses."""
        used = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
        start = os.getpid() % 16000
        for i in range(16000):
            n = (start + i) % 16000
            base = f"10.231.{n // 64}.{(n % 64) * 4}"
            host = base.rsplit(".", 1)[0] + f".{(n % 64) * 4 + 1}"
            ns = base.rsplit(".", 1)[0] + f".{(n % 64) * 4 + 2}"
            if f" {host}/" not in used and f" {ns}/" not in used:
                return host, ns
        raise RuntimeError("no free /30 in 10.231.0.0/16")

    def up(self) -> None:
        _ip("netns", "add", self.netns)
        _ip("link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        _ip("link", "set", self.veth_ns, "netns", self.netns)
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.veth_host)
        _ip("link", "set", self.veth_host, "up")
        _ip("-n", self.netns, "addr", "add", f"{self.ns_ip}/30", "dev", self.veth_ns)
        _ip("-n", self.netns, "link", "set", self.veth_ns, "up")
        _ip("-n", self.netns, "link", "set", "lo", "up")

    def forward(self, port: int, to_host: str = "127.0.0.1", to_port: int | None = None) -> int:
        """Make 127.0.0.1:`port` on this host reachable from the namespace at
        host_ip:`port` (socat, bound to the link's host end only). Returns the port."""
        proc = Process(
            f"forward-{port}",
            [
                "socat",
                f"TCP-LISTEN:{port},bind={self.host_ip},reuseaddr,fork",
                f"TCP:{to_host}:{to_port or port}",
            ],
            dict(os.environ),
            self.log_dir,
        )
        proc.port = port
        self.forwarders.append(proc)
        wait_for(lambda: listening(self.host_ip, port), timeout=10, what=f"forwarder {port}")
        return port

    def unforward(self, port: int) -> None:
        for proc in [p for p in self.forwarders if p.port == port]:
            proc.stop()
            self.forwarders.remove(proc)

    def copy_models(self, names: list[str]) -> Path:
        """The model files the worker needs, in its own data folder."""
        from webapp.modelfiles import model_path

        models = self.scratch / "data" / "models"
        models.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = models / name
            if not target.exists():
                shutil.copyfile(model_path(name), target)
        return self.scratch / "data"

    def worker(self, env: dict[str, str], *, hidden: list[Path], queues: str, name: str):
        """A Celery worker inside the namespace; `hidden` folders are empty there."""
        mounts = " && ".join(f'mount -t tmpfs -o size=1m cnnst-hidden "{p}"' for p in hidden)
        script = f'hostname {self.netns}-host2 && {mounts} && exec "$@"'
        args = [
            "ip", "netns", "exec", self.netns,
            "unshare", "--mount", "--uts", "--propagation", "private", "--",
            "sh", "-c", script, "sh",
            sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", queues, "-c", "1",
            "-P", "prefork", "-n", f"{name}@%h", "--without-gossip", "--without-mingle",
            "-l", "warning",
        ]  # fmt: skip
        proc = Process(f"host2-{name}", args, {**env, "STUDIO_WORKER_QUEUES": queues},
                       self.log_dir)  # fmt: skip
        self.workers.append(proc)
        return proc

    def kill_all(self) -> None:
        """SIGKILL every process in the namespace (the second host's power cut)."""
        pids = subprocess.run(
            ["ip", "netns", "pids", self.netns], capture_output=True, text=True
        ).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass

    def down(self) -> None:
        self.kill_all()
        for proc in self.workers + self.forwarders:
            proc.stop()
        subprocess.run(["ip", "link", "del", self.veth_host], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)


def url_with_host(url: str, host: str) -> str:
    """`url` (redis://, postgres://) pointed at `host`, keeping its port and path."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    auth = netloc[0] + "@" if len(netloc) == 2 else ""
    port = parts.port
    return parts._replace(netloc=f"{auth}{host}:{port}").geturl()


__all__ = ["ROOT", "ObjectStore", "SecondHost", "namespaces_unavailable", "url_with_host"]
