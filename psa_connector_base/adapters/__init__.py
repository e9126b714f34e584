from . import bamboohr, canonical, float, harvest, productive
from .base import AdapterConfig, HttpAdapter, with_features
