"""Property listings API of the sample platform."""

__version__ = "1.4.2"
