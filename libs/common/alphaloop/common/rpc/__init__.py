"""gRPC plumbing shared by every service: the server bootstrap, interceptors, client helpers."""

from alphaloop.common.rpc.client import RpcClient, make_channel
from alphaloop.common.rpc.server import ServiceServer

__all__ = ["RpcClient", "ServiceServer", "make_channel"]
