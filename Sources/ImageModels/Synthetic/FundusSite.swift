/// How one fundus camera (one clinic) turns a retina into pixels: colour balance, exposure,
/// contrast, sharpness, sensor noise and where its circular field of view lies in the frame.
///
/// A synthetic retina is rendered in scene colours and then passed through the camera, per
/// channel `c` and pixel at distance `ρ` (in field-of-view radii) from the illumination centre:
///
///     v = gain_c · exposure · e^(jitter·z) · (1 − vignetting · ρ^2.5)
///     v = blur_σ(v)
///     v = m_c + contrast · (v − m_c) + noise · z'           m_c: the channel's mean in the field
///
/// clamped to [0, 1] and 0 outside the field of view, where `z`, `z'` are standard normal draws
/// (per image and per pixel; exposure also drifts ±3 % per channel and the light centre moves
/// slightly) and `σ = blur · size` pixels.
/// Two cameras with different settings give the domain shift that LoRA adaptation has to close.
public struct FundusCamera: Sendable, Equatable, Codable {
    /// Multipliers of the red, green and blue channels (white balance).
    public var redGain: Float
    public var greenGain: Float
    public var blueGain: Float
    /// Overall brightness multiplier.
    public var exposure: Float
    /// Standard deviation of the per-image log-exposure (flash and pupil vary between shots).
    public var exposureJitter: Float
    /// Contrast: each channel is stretched about its mean inside the field of view (1: unchanged).
    public var contrast: Float
    /// Gaussian blur sigma as a fraction of the image width (0: sharp).
    public var blur: Float
    /// Standard deviation of additive per-pixel sensor noise, in [0, 1] units.
    public var noise: Float
    /// Radius of the circular field of view as a fraction of half the image width (above 1 the
    /// disc is clipped at the frame edges, as in many cropped photographs).
    public var fieldRadius: Float
    /// Centre of the field of view, offset from the image centre in half-widths (right, down).
    public var fieldCenterX: Float
    public var fieldCenterY: Float
    /// Relative brightness lost at the rim of the field of view.
    public var vignetting: Float
    /// Probability that a photograph shows faint dust or smudge spots on the optics.
    public var dustProbability: Float

    public init(redGain: Float = 1, greenGain: Float = 1, blueGain: Float = 1, exposure: Float = 1,
                exposureJitter: Float = 0.08, contrast: Float = 1, blur: Float = 0.003,
                noise: Float = 0.012, fieldRadius: Float = 0.94, fieldCenterX: Float = 0,
                fieldCenterY: Float = 0, vignetting: Float = 0.35, dustProbability: Float = 0.15) {
        self.redGain = redGain
        self.greenGain = greenGain
        self.blueGain = blueGain
        self.exposure = exposure
        self.exposureJitter = exposureJitter
        self.contrast = contrast
        self.blur = blur
        self.noise = noise
        self.fieldRadius = fieldRadius
        self.fieldCenterX = fieldCenterX
        self.fieldCenterY = fieldCenterY
        self.vignetting = vignetting
        self.dustProbability = dustProbability
    }

    /// The camera of the site where the base model is pretrained: neutral white balance, sharp,
    /// low noise, the whole field of view inside the frame.
    public static let source = FundusCamera()

    /// The clinic's camera that LoRA adapts to: cooler and greener, darker with harder contrast,
    /// softer focus, noisier, stronger vignetting, and a larger, off-centre field of view whose
    /// top and bottom are clipped by the frame.
    public static let target = FundusCamera(
        redGain: 0.86, greenGain: 1.12, blueGain: 1.15, exposure: 0.9, exposureJitter: 0.12,
        contrast: 1.25, blur: 0.008, noise: 0.03, fieldRadius: 1.04, fieldCenterX: 0.04,
        fieldCenterY: -0.02, vignetting: 0.55, dustProbability: 0.3)
}

/// The clinic (camera) whose photographs a synthetic set imitates.
public enum FundusSite: Sendable, Equatable {
    /// The pretraining site (`FundusCamera.source`).
    case source
    /// The adaptation site (`FundusCamera.target`): a different camera, same disease.
    case target
    /// Any other camera.
    case custom(FundusCamera)

    /// The imaging settings of this site.
    public var camera: FundusCamera {
        switch self {
        case .source: return .source
        case .target: return .target
        case .custom(let camera): return camera
        }
    }

    /// "source", "target" or "custom".
    public var name: String {
        switch self {
        case .source: return "source"
        case .target: return "target"
        case .custom: return "custom"
        }
    }

    /// The site called `name` ("source" or "target"), or nil.
    public init?(name: String) {
        switch name.lowercased() {
        case "source": self = .source
        case "target": self = .target
        default: return nil
        }
    }
}
