from . import canonical, harvest, productive
from .base import ADAPTERS, AdapterConfig, HttpAdapter, get_adapter_class, register_adapter
