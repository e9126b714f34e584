from . import adapters, controllers, models, tools, wizards
