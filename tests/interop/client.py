#!/usr/bin/env python3
"""A practiced client written from proto/practiced.proto alone, in another language.

It proves the wire contract is complete without our C code: TLS 1.2 against the
practice CA with a hostname check (OpenSSL, not mbedtls), 4-byte big-endian frames,
Hello, Login, CreatePatient, SearchPatients, GetPatient, typed errors. It also checks
what the server will not do: TLS 1.1, and TLS 1.2 with CBC ciphers.

usage: client.py --port P --ca FILE --user U --password PW --pb-dir DIR
(DIR holds practiced_pb2.py from `protoc --python_out=DIR -I proto practiced.proto`)
"""
import argparse
import warnings
import socket
import ssl
import struct
import sys


def fail(msg):
    print("interop FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self, pb, host, port, ca):
        self.pb = pb
        ctx = ssl.create_default_context(cafile=ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        self.sock = ctx.wrap_socket(socket.create_connection((host, port), timeout=30),
                                    server_hostname=host)
        self.next_id = 1

    def call(self, **body):
        env = self.pb.Envelope(id=self.next_id, request_key=b"py-%d" % self.next_id, **body)
        self.next_id += 1
        data = env.SerializeToString()
        self.sock.sendall(struct.pack(">I", len(data)) + data)
        while True:
            ans = self.read()
            if ans.id == env.id:
                return ans

    def read(self):
        hdr = self.recv_exact(4)
        (n,) = struct.unpack(">I", hdr)
        env = self.pb.Envelope()
        env.ParseFromString(self.recv_exact(n))
        return env

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                fail("server closed the connection")
            buf += chunk
        return buf


def expect(env, field):
    kind = env.WhichOneof("body")
    if kind != field:
        err = env.error if kind == "error" else None
        fail("expected %s, got %s %s" % (field, kind, err))
    return getattr(env, field)


def refused(host, port, ca, **ctxopts):
    ctx = ssl.create_default_context(cafile=ca)
    if "version" in ctxopts:
        ctx.minimum_version = ctx.maximum_version = ctxopts["version"]
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    if "ciphers" in ctxopts:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(ctxopts["ciphers"])
    try:
        with ctx.wrap_socket(socket.create_connection((host, port), timeout=10),
                             server_hostname=host):
            return False
    except (ssl.SSLError, ConnectionError, OSError):
        return True


def main():
    warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.1 is asked for on purpose
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="localhost")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--pb-dir", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.pb_dir)
    import practiced_pb2 as pb

    c = Conn(pb, a.host, a.port, a.ca)
    if c.sock.version() != "TLSv1.2":
        fail("negotiated %s" % c.sock.version())
    cipher = c.sock.cipher()[0]
    if "GCM" not in cipher and "CHACHA20" not in cipher:
        fail("negotiated a non-AEAD cipher " + cipher)

    hello = expect(c.call(hello=pb.Hello(protocol_version=1, client="interop.py")), "hello_ok")
    if hello.protocol_version != 1:
        fail("protocol version %d" % hello.protocol_version)

    # before login: a typed error, not a crash
    err = expect(c.call(search_patients=pb.SearchPatients(name="x")), "error")
    if err.code != pb.UNAUTHENTICATED:
        fail("expected UNAUTHENTICATED, got %s" % pb.ErrorCode.Name(err.code))

    ok = expect(c.call(login=pb.Login(username=a.user, password=a.password, device="py")),
                "login_ok")
    if len(ok.token) != 32 or ok.account.role != pb.MANAGER:
        fail("odd LoginOk")

    p = pb.Patient(first_name="Grace", last_name="Hopper-Interop", date_of_birth="1906-12-09",
                   sex=pb.FEMALE, phones=[pb.Phone(number="+1 212 555 0199", kind=pb.MOBILE)],
                   insurance=pb.Insurance(payer="Navy Mutual", member_id="GH-1906"),
                   preferred_language="en")
    made = expect(c.call(create_patient=pb.CreatePatient(patient=p)), "patient_ok").patient
    if not made.mrn or made.version != 1:
        fail("create returned mrn=%r version=%d" % (made.mrn, made.version))

    found = expect(c.call(search_patients=pb.SearchPatients(name="hopper-int")), "patient_list")
    if made.mrn not in [x.mrn for x in found.patients]:
        fail("search did not find the new patient")
    found = expect(c.call(search_patients=pb.SearchPatients(phone="5550199")), "patient_list")
    if made.mrn not in [x.mrn for x in found.patients]:
        fail("phone search did not find the new patient")

    got = expect(c.call(get_patient=pb.GetPatient(mrn=made.mrn)), "patient_ok").patient
    if got.insurance.member_id != "GH-1906" or got.phones[0].kind != pb.MOBILE:
        fail("read back differs")

    bad = pb.Patient(first_name="", last_name="X", date_of_birth="1990-13-01")
    err = expect(c.call(create_patient=pb.CreatePatient(patient=bad)), "error")
    if err.code != pb.INVALID_ARGUMENT or {f.field for f in err.fields} != {"first_name",
                                                                           "date_of_birth"}:
        fail("validation error was %s %s" % (pb.ErrorCode.Name(err.code), err))

    # what the server must refuse, seen from OpenSSL
    if not refused(a.host, a.port, a.ca, version=ssl.TLSVersion.TLSv1_1):
        fail("TLS 1.1 was accepted")
    if not refused(a.host, a.port, a.ca, ciphers="ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"):
        fail("a CBC cipher was accepted")
    print("interop ok: %s via %s, patient %s" % (c.sock.version(), cipher, made.mrn))


if __name__ == "__main__":
    main()
