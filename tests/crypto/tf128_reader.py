#!/usr/bin/python3
"""An independent teaclave-file-128 reader, written from the format notes
(teaclave-functions.md §3.3) with python3-cryptography only, used to check
the files Steep's C writer produces.

    tf128_reader.py KEYHEX FILE [NAME]   -> plaintext on stdout, cmac on stderr
    tf128_reader.py --check STEEP_BIN    -> the script test (see check())
"""
import os
import struct
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.exceptions import InvalidTag

NODE = 4096
USER_DATA = 3072


class TamperError(Exception):
    pass


def kdf(key, label, node_number, nonce):
    data = struct.pack("<I", 1) + label.ljust(64, b"\0") + bytes(4)
    data += struct.pack("<Q", node_number) + nonce + struct.pack("<I", 0x80) + bytes(4)
    assert len(data) == 120
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def gcm_open(key, blob, tag, what):
    try:
        return AESGCM(key).decrypt(bytes(12), blob + tag, None)
    except InvalidTag:
        raise TamperError(what + " failed authentication")


def read_tf128(path, key, name=None):
    """Returns (plaintext, cmac); raises TamperError."""
    data = open(path, "rb").read()
    if len(data) < NODE or len(data) % NODE:
        raise TamperError("bad file length %d" % len(data))
    node0 = data[:NODE]
    file_id, major, minor, flags, update = struct.unpack_from("<QBBBB", node0, 0)
    if file_id != 0x5347585F46494C45 or major != 1 or flags != 1 or update != 0:
        raise TamperError("bad header")
    key_id = node0[16:48]
    gmac = node0[80:96]
    md = gcm_open(kdf(key, b"SGX-PROTECTED-FS-METADATA-KEY", 0, key_id), node0[96:3468], gmac,
                  "metadata")
    stored = md[:260].split(b"\0", 1)[0].decode()
    if name is None:
        name = os.path.basename(path)
    if stored != name:
        raise TamperError("name mismatch: %r vs %r" % (stored, name))
    size = struct.unpack_from("<Q", md, 260)[0]
    mht_key, mht_gmac = md[268:284], md[284:300]
    out = bytearray(md[300:300 + min(size, USER_DATA)])
    if size > USER_DATA:
        ndata = (size - USER_DATA + NODE - 1) // NODE
        nmht = (ndata - 1) // 96 + 1
        mhts = {}

        def node(phys):
            if (phys + 1) * NODE > len(data):
                raise TamperError("truncated at node %d" % phys)
            return data[phys * NODE:(phys + 1) * NODE]

        # Breadth-first numbering: parents before children.
        mhts[0] = gcm_open(mht_key, node(1), mht_gmac, "mht 0")
        for m in range(1, nmht):
            parent = mhts[(m - 1) // 32]
            off = (96 + (m - 1) % 32) * 32
            mhts[m] = gcm_open(parent[off:off + 16], node(1 + 97 * m), parent[off + 16:off + 32],
                               "mht %d" % m)
        for d in range(ndata):
            entry = mhts[d // 96][(d % 96) * 32:(d % 96) * 32 + 32]
            out += gcm_open(entry[:16], node(d + 2 + d // 96), entry[16:], "data %d" % d)
        last = ndata - 1
        if len(data) != (last + 2 + last // 96 + 1) * NODE:
            raise TamperError("file length does not match size")
    elif len(data) != NODE:
        raise TamperError("file length does not match size")
    return bytes(out[:size]), gmac


def check(steep_bin):
    tool = os.path.join(steep_bin, "test_tf128_tool")
    key = bytes(range(16))
    with tempfile.TemporaryDirectory(prefix="steep-tf128-py-") as tmp:
        for size in (0, 1, 3072, 3073, 4096 * 96 + 5000, 3072 + 4096 * (96 * 33 + 1)):
            plain = os.urandom(size)
            src = os.path.join(tmp, "plain-%d" % size)
            enc = os.path.join(tmp, "file-%d.enc" % size)
            open(src, "wb").write(plain)
            res = subprocess.run([tool, "encrypt", "teaclave-file-128", key.hex(), "-", src, enc],
                                 capture_output=True, text=True, check=True)
            got, cmac = read_tf128(enc, key)
            assert got == plain, "size %d: plaintext differs" % size
            assert cmac.hex() == res.stdout.strip(), "size %d: cmac differs" % size
            print("ok size %d cmac %s" % (size, cmac.hex()))
        # A tampered data node, MHT node and metadata are rejected.
        enc = os.path.join(tmp, "file-%d.enc" % (4096 * 96 + 5000))
        for offset in (2 * NODE + 17, NODE + 5, 200):
            blob = bytearray(open(enc, "rb").read())
            blob[offset] ^= 1
            bad = os.path.join(tmp, "file-%d.enc" % (4096 * 96 + 5000))
            tampered = bad + ".t"
            open(tampered, "wb").write(blob)
            try:
                read_tf128(tampered, key, os.path.basename(enc))
            except TamperError as e:
                print("ok tamper at %d rejected: %s" % (offset, e))
            else:
                raise AssertionError("tampering at %d not detected" % offset)
        # The C reader agrees with this reader on the committed fixtures.
        shared = os.environ.get("STEEP_SHARED_DIR", "../shared")
        fixture = os.path.join(shared, "fixtures/teaclave/functions/py_logistic_reg/train.enc")
        got, cmac = read_tf128(fixture, bytes(16))
        assert cmac.hex() == "00780510adc603725ec240ab979681f0"
        assert got == open(fixture[:-4] + ".txt", "rb").read()
        print("ok fixture py_logistic_reg/train.enc")
    print("all checks passed")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
        return 0
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        plain, cmac = read_tf128(sys.argv[2], bytes.fromhex(sys.argv[1]),
                                 sys.argv[3] if len(sys.argv) == 4 else None)
    except TamperError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    sys.stdout.buffer.write(plain)
    print(cmac.hex(), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
