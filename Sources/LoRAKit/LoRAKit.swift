// LoRAKit: the whole public API in one import, for programs and plugin packages.
@_exported import Tensor
@_exported import SafeTensors
@_exported import NN
@_exported import LoRA
@_exported import Training
@_exported import Recipes
@_exported import Tasks
@_exported import ImageModels
@_exported import TextModels
@_exported import GGUF
@_exported import LanguageModels
@_exported import Runtime
@_exported import LoRAKitCLI
