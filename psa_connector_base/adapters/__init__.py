from . import bamboohr, canonical, float
from .base import ADAPTERS, AdapterConfig, HttpAdapter, get_adapter_class, register_adapter
