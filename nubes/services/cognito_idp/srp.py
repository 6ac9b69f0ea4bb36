"""SRP-6a as Cognito runs it for USER_SRP_AUTH: the 3072-bit group of RFC 5054 with g = 2,
SHA-256, Cognito's hex padding, its HKDF ("Caldera Derived Key") and the HMAC the client signs
its claim with (pool name, user id, secret block and timestamp). The server keeps only a salt and
a verifier per user."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E34"
    "04DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F"
    "406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163"
    "FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C3"
    "2905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956"
    "AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D"
    "060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602"
    "733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B"
    "82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key\x01"


def pad_hex(value: int | str) -> str:
    """Cognito's hex form of a positive number: even length, and a leading 00 when the first
    digit would read as a sign bit."""
    text = format(value, "x") if isinstance(value, int) else value.lower()
    if len(text) % 2:
        return "0" + text
    return "00" + text if text[0] in "89abcdef" else text


def _hex_hash(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


def _int_hash(hex_text: str) -> int:
    return int(_hex_hash(hex_text), 16)


K = _int_hash(pad_hex(N) + pad_hex(G))


def private_x(pool_name: str, user_id: str, password: str, salt_hex: str) -> int:
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).hexdigest()
    return _int_hash(pad_hex(int(salt_hex, 16)) + inner)


def verifier(pool_name: str, user_id: str, password: str) -> tuple[str, str]:
    """(salt hex, verifier hex) to keep for a user's new password."""
    salt = secrets.token_hex(16)
    return salt, format(pow(G, private_x(pool_name, user_id, password, salt), N), "x")


def _u(a: int, b: int) -> int:
    return _int_hash(pad_hex(a) + pad_hex(b))


def _hkdf(s: int, u: int) -> bytes:
    prk = hmac.new(bytes.fromhex(pad_hex(u)), bytes.fromhex(pad_hex(s)), hashlib.sha256).digest()
    return hmac.new(prk, INFO, hashlib.sha256).digest()[:16]


def claim_signature(
    key: bytes, pool_name: str, user_id: str, secret_block: str, timestamp: str
) -> str:
    msg = (
        pool_name.encode() + user_id.encode() + base64.b64decode(secret_block) + timestamp.encode()
    )
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()


class ServerSession:
    """The server's half: B from the verifier and a fresh b, then the check of the claim."""

    def __init__(self, verifier_hex: str, b: int | None = None) -> None:
        self.v = int(verifier_hex, 16)
        self.b = b if b is not None else secrets.randbelow(N - 2) + 1
        self.big_b = (K * self.v + pow(G, self.b, N)) % N

    def key(self, a_hex: str) -> bytes | None:
        """The shared key for the client's A (None for an A that would break the protocol)."""
        a = int(a_hex, 16)
        if a % N == 0:
            return None
        u = _u(a, self.big_b)
        if u == 0:
            return None
        s = pow(a * pow(self.v, u, N), self.b, N)
        return _hkdf(s, u)
