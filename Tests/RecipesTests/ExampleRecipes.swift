/// Three small example recipes, one per kind of run; the tests decode, validate and round-trip
/// them. (The shipped recipes under `recipes/` are tested the same way once they exist.)
enum ExampleRecipes {
    /// LoRA on a pretrained ResNet-34 for five-grade retinopathy, images listed in a CSV.
    static let retinaLoRA = """
        # lorakit train recipes/retina/resnet34_lora.yaml
        task: image_classification
        model:
          architecture: resnet34
          weights: weights/resnet34.safetensors
          class_names: [none, mild, moderate, severe, proliferative]
          head: new
          input_size: 224
        lora:
          rank: 16
          alpha: 32
          dropout: 0.05
          init: gaussian
          rank_pattern: {"layer4\\\\..*": 32}
          target_modules: [conv1, conv2, "re:layer[34]\\\\.\\\\d+\\\\.downsample\\\\.0"]
          exclude_modules: [layer1.0.conv1]
          modules_to_save: [fc]
        data:
          format: image_csv
          train: data/train.csv
          validation: data/val.csv
          image_directory: data/images
          image_column: image
          label_column: grade
          bad_files: skip
          transforms:
            - name: resize
              size: 256
            - name: center_crop
              size: 224
            - {name: normalize, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
          batch_size: 16
          eval_batch_size: 64
          read_threads: 2
        train:
          epochs: 10
          optimizer:
            name: adamw
            lr: 5e-4
            weight_decay: 0.05
            groups:
              - name: head
                patterns: [fc.]
                lr: 1e-3
          scheduler:
            name: cosine
            warmup_steps: 100
            min_lr_ratio: 0.01
          gradient_accumulation: 2
          clip_grad_norm: 1.0
          seed: 42
          label_smoothing: 0.1
        eval:
          metrics: [accuracy, qwk]
          monitor: qwk
          mode: max
        hooks:
          progress: {interval: 20}
          early_stopping: {patience: 4, min_delta: 0.001}
          checkpoint: {keep_best: 2}
        output_dir: runs/retina_lora

        """

    /// LoRA on MiniLM's attention projections for sentiment, from a CSV of texts.
    static let textLoRA = """
        # lorakit train recipes/text/minilm_lora.yaml
        task: text_classification
        model:
          architecture: minilm
          weights: weights/minilm.safetensors
          classes: 2
          input_size: 128
          options: {pooling: cls, vocabulary: weights/vocab.txt}
        lora:
          rank: 8
          alpha: 16
          use_rslora: true
          alpha_pattern: {value: 32}
          bias: lora_only
          target_modules: [query, key, value]
          modules_to_save: [classifier]
        data:
          format: text_csv
          train: data/sentiment.csv
          text_column: sentence
          label_column: label
          validation_fraction: 0.1
          batch_size: 32
        train:
          max_steps: 2000
          optimizer: {lr: 2e-4}
          scheduler: {name: linear, warmup_steps: 200}
          threads: 2
        eval:
          metrics: [accuracy, macro_f1]
          every_steps: 200
          each_epoch: false
        hooks:
          checkpoint: {every_steps: 500, each_epoch: false}
          non_finite: skip
        output_dir: runs/minilm_lora

        """

    /// Full fine-tuning of the tiny conv net on generated patterns: no files, no adapters.
    static let syntheticFull = """
        # lorakit train recipes/examples/tiny_convnet_full.yaml
        task: image_classification
        model:
          architecture: tiny_convnet
          classes: 4
          options: {width: 8}
        data:
          format: synthetic_patterns
          batch_size: 8
          prefetch: 0
          options: {count: 256, size: 16, noise: 0.1}
        train:
          mode: full
          epochs: 3
          optimizer: {name: sgd, lr: 0.05, momentum: 0.9, nesterov: true}
          scheduler: {name: step, step_size: 30, gamma: 0.5}
          seed: 7
        hooks:
          metrics_log: false
        output_dir: runs/tiny_full

        """

    /// The files the examples name, relative to the recipe's directory.
    static let files = ["weights/resnet34.safetensors", "data/train.csv", "data/val.csv",
                        "weights/minilm.safetensors", "data/sentiment.csv"]
    static let directories = ["data/images"]
}
