"""Mail as a platform: people known by an address, reached one message each.

The profile (``address``) lets an address stand wherever a ``<@user>`` does; the sender
(``smtp``) delivers outbox rows for the ``email`` platform over SMTP, each a multipart
text and HTML message (``message``, ``render``) whose Message-ID comes from the row's key.
"""
