from . import bamboohr, canonical, float, harvest, hubspot, productive
from .base import AdapterConfig, HttpAdapter, with_features
