# tests/integration/forge.py: writes rdship streams (docs/FORMAT.md) for
# the tests that play an attacker.  Frames are authenticated with the
# format's public zero key, as anyone can without a key; a keyed standby
# refuses them before reading a frame.
#
#   b = Bundle(origin, epoch=1, since=0, newest=1)
#   b.full(data) / b.delta(sha, base, size, ops) / b.snap(1) / b.rows(...)
#   b.end(); sys.stdout.buffer.write(b.bytes())
#
# answer_have(code, msg, uuid, ...) plays a hostile `rdship serve`.
import hashlib
import hmac
import os
import struct
import zlib

DIR, FILE, LINK = ord("d"), ord("f"), ord("l")
FIFO, CHR, BLK = ord("p"), ord("c"), ord("b")
FULL, DELTA, SIG = 0, 1, 2
RS_DELTA_MAGIC = 0x72730236


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def f64(v):
    return struct.pack("<d", v)


def bstr(b):
    return u64(len(b)) + b


def xattr(name, value):
    """One attribute in the encoding of an entry's xattrs (xattr.c)."""
    return name + b"\0" + struct.pack(">I", len(value)) + value


def sha(data):
    return hashlib.sha256(data).digest()


def copy_op(off, length):
    """A librsync COPY command with 8-byte offset and length."""
    return bytes([0x45 + 4 * 3 + 3]) + struct.pack(">QQ", off, length)


def literal_op(data):
    """A librsync LITERAL command with an 8-byte length."""
    return bytes([0x41 + 3]) + struct.pack(">Q", len(data)) + data


def delta_payload(ops):
    return struct.pack(">I", RS_DELTA_MAGIC) + b"".join(ops) + b"\0"


def object_header(kind, codec, raw, payload, content, base=bytes(32)):
    h = (b"RDO1" + bytes([kind, codec, 0, 0]) + u64(raw) +
         u64(len(payload)) + content + base +
         struct.pack("<I", zlib.crc32(payload)))
    return h + struct.pack("<I", zlib.crc32(h))


class Bundle:
    def __init__(self, origin, epoch=1, since=0, newest=1, codecs=0b11):
        self.nonce = os.urandom(16)
        self.out = [b"RDSHIP3\n", bytes([0]), self.nonce]
        self.seq = 0
        self.nobj = self.nsnap = self.nrows = self.ncloses = 0
        self.nproblems = 0
        self.frame("H", bstr(origin.encode()) + u64(epoch) + u64(0) +
                   u64(since) + u64(newest) + u64(codecs))

    def frame(self, t, payload):
        t = t.encode()
        mac = hmac.new(bytes(32), b"I" + u64(self.seq) + self.nonce + t +
                       u64(len(payload)) + payload, hashlib.sha256).digest()
        self.out.append(t + u64(len(payload)) + payload + mac)
        self.seq += 1

    def obj(self, kind, codec, raw, payload, content, base=bytes(32),
            extra=0):
        self.frame("O", u64(extra) +
                   object_header(kind, codec, raw, payload, content, base) +
                   payload)
        if kind != SIG:
            self.nobj += 1

    def full(self, data, content=None, raw=None, codec=0, payload=None):
        """A full object; by default raw, honest and uncompressed."""
        if payload is None:
            payload = data if codec == 0 else zlib.compress(data)
        self.obj(FULL, codec, len(data) if raw is None else raw, payload,
                 sha(data) if content is None else content)

    def delta(self, content, base, raw, ops):
        self.obj(DELTA, 0, raw, delta_payload(ops), content, base)

    def snap(self, sid, started=1e9, finished=None, counts=None, label=b""):
        counts = counts or [0] * 10
        if finished is None:
            finished = started + 1
        self.frame("S", u64(sid) + f64(started) + f64(finished) + bstr(label) +
                   bstr(b"/src") + b"".join(u64(c) for c in counts))
        self.nsnap += 1

    @staticmethod
    def row(path, typ, first, last=0, size=0, content=b"", target=b"",
            mode=0o755, uid=0, gid=0, mtime=0, rdev=0, link=0, xattrs=b""):
        return (bstr(path) + u64(first) + u64(last) + u64(typ) + u64(mode) +
                u64(uid) + u64(gid) + u64(size) + u64(mtime) +
                bstr(content) + bstr(target) + u64(0) + u64(rdev) +
                u64(link) + bstr(xattrs))


    def rows(self, *rows):
        self.frame("E", b"".join(rows))
        self.nrows += len(rows)

    def closes(self, *closes):
        self.frame("C", b"".join(bstr(p) + u64(f) + u64(l)
                                 for p, f, l in closes))
        self.ncloses += len(closes)

    def problems(self, *rows):
        """(snapshot, path, problem, reason) rows"""
        self.frame("P", b"".join(u64(s) + bstr(p) + bstr(k) + bstr(r)
                                 for s, p, k, r in rows))
        self.nproblems += len(rows)

    def end(self, nobj=None):
        self.frame("Z", u64(self.nobj if nobj is None else nobj) +
                   u64(self.nsnap) + u64(self.nrows) + u64(self.ncloses) +
                   u64(self.nproblems))

    def bytes(self):
        return b"".join(self.out)


def answer_have(code, msg, uuid, newest=0, epoch=1, codecs=0b111):
    """Play the responder of a push session (run as the --rsh command):
    read the initiator's preamble and HELLO from stdin, answer with a
    preamble and this HAVE on stdout, then read to the end."""
    import sys
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    pre = inp.read(25)
    nonce = pre[9:25]
    head = inp.read(9)
    inp.read(struct.unpack("<Q", head[1:9])[0] + 32)
    payload = (u64(code) + bstr(msg) + bstr(uuid) + u64(newest) +
               u64(epoch) + u64(codecs))
    mac = hmac.new(bytes(32), b"R" + u64(0) + nonce + b"A" +
                   u64(len(payload)) + payload, hashlib.sha256).digest()
    out.write(b"RDSHIP3\n" + bytes([0]) + nonce + b"A" +
              u64(len(payload)) + payload + mac)
    out.flush()
    inp.read()
