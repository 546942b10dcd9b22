"""A plugin module whose import raises a bare ``BaseException`` subclass."""


class PluginMeltdown(BaseException):
    """Not an ``Exception``: ``except Exception`` does not catch it."""


raise PluginMeltdown("plugin import went very wrong")
