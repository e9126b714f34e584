from . import canonical, harvest
from .base import ADAPTERS, AdapterConfig, HttpAdapter, get_adapter_class, register_adapter
