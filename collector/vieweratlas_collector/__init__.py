"""ViewerAtlas live chat collector: unique chatters per Twitch channel and UTC hour.

Modules, in the order a line travels: ``irc`` (parse) -> ``connection`` (one
socket) -> ``pool`` (many sockets, one JOIN limiter) -> ``presence`` (the hour's
chatters) -> ``snapshot`` (spool and upload) ; ``channels`` picks the channels,
``heartbeat`` reports health, ``app`` wires it all, ``main`` is the CLI.
"""

__version__ = "0.1.0"
