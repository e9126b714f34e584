from . import bamboohr, canonical, float, harvest, productive
from .base import ADAPTERS, AdapterConfig, HttpAdapter, get_adapter_class, register_adapter
