"""TLS to the broker: CA file and client certificate, against a real Mosquitto TLS listener."""

from __future__ import annotations

import subprocess

from devtools.mosquitto import Mosquitto

from ..helpers import BridgeProcess, Recorder, wait_until, write_config


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


# Python 3.13 verifies strictly (VERIFY_X509_STRICT): CAs need key usage, leaves an authority key id.
CA_EXT = ("-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
LEAF_EXT = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nauthorityKeyIdentifier=keyid\n"


def make_pki(d) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    for ca in ("ca", "other"):
        openssl(
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={ca}",
            *CA_EXT,
            "-keyout",
            f"{ca}.key",
            "-out",
            f"{ca}.crt",
            cwd=d,
        )
    for name, cn, san in (("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\n"), ("client", "pi-1", "")):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            f"/CN={cn}",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            cwd=d,
        )
        (d / f"{name}.cnf").write_text(LEAF_EXT + san)
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            f"{name}.crt",
            "-extfile",
            f"{name}.cnf",
            cwd=d,
        )


def tls_broker(port: int, pki, ca_file: str) -> dict:
    """The bridge's broker settings for the TLS listener, trusting the CA in ``pki / ca_file``."""
    return {
        "host": "127.0.0.1",
        "port": port,
        "tls": True,
        "ca_file": str(pki / ca_file),
        "cert_file": str(pki / "client.crt"),
        "key_file": str(pki / "client.key"),
    }


async def test_bridge_connects_with_tls_and_client_cert(socket_enabled, tmp_path):
    pki = tmp_path / "pki"
    pki.mkdir()
    make_pki(pki)
    # The fixture's plain listener is the one that gets TLS; a second plain listener lets the test subscribe.
    with Mosquitto() as plain_port_holder:
        plain = plain_port_holder.port
    tls = (
        f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\nkeyfile {pki / 'server.key'}\n"
        f"require_certificate true\nlistener {plain} 127.0.0.1\nuser root"
    )
    with Mosquitto(extra_config=tls) as broker:
        good = write_config(
            tmp_path / "good.yaml",
            broker=tls_broker(broker.port, pki, "ca.crt"),
        )
        (tmp_path / "bad").mkdir()
        bad = write_config(
            tmp_path / "bad" / "bad.yaml",
            broker=tls_broker(broker.port, pki, "other.crt"),
        )
        async with Recorder(plain) as rec:
            with BridgeProcess(good, "pi-1", broker.port):
                await rec.wait_for("state", lambda m: True, timeout=20)
            # A broker whose certificate the node's CA did not sign is refused, with a clear log line, no crash.
            with BridgeProcess(bad, "pi-2", broker.port) as wrong:
                await wait_until(lambda: "CERTIFICATE_VERIFY_FAILED" in wrong.log(), 15, "certificate refused")
                assert wrong.process is not None and wrong.process.poll() is None
            assert not [t for t, _ in rec.messages if t.startswith("hydro_fleet/pi-2/")]
