"""Typed message headers for SDK users (the codec is ``whippet.wire.header_values``).

``Message(payload, headers={"trace": "abc", "n": 7, "w": HeaderValue.float32(0.5)})``
sends them; ``ReceivedMessage.headers`` reads them back as :class:`HeaderValue`\\ s.
"""

from whippet.wire.header_values import (
    HeaderInput,
    HeaderValue,
    decode_headers,
    encode_headers,
    header_kind_name,
)

__all__ = ["HeaderInput", "HeaderValue", "decode_headers", "encode_headers", "header_kind_name"]
