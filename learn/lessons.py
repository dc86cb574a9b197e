"""The course's lessons, in the order of the two course summaries (Andrew Ng's ConvNets
course and the week-3 notes of "Introduction to Deep Learning"). Plain data, no Django.

Each lesson teaches one idea: a few sentences, then either a `widget` that runs in the
page (static/learn/widgets.js mounts it by name), an `experiment` that queues playground
runs (learn/experiments.py), or neither; then one question whose answer is checked.
`tool` is the playground page (a URL name) where the idea can be taken further.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    why: str  # shown once answered


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    part: str
    idea: tuple[str, ...]  # paragraphs
    question: Question
    tool: str  # URL name of the full tool
    tool_label: str
    widget: str = ""  # a widget of static/learn/widgets.js
    widget_options: dict = field(default_factory=dict)
    experiment: str = ""  # a name in learn.experiments.EXPERIMENTS
    see: str = ""  # what the widget or experiment should show

    @property
    def kind(self) -> str:
        return "experiment" if self.experiment else "widget" if self.widget else "text"


W1, W2, W3, W4 = ("Foundations", "Modern ConvNets", "Detection and segmentation",
                  "Special applications")

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "images-as-input", "Images as input, and normalising them", W1,
        ("To a network a picture is only a grid of numbers: height × width for grey, "
         "height × width × 3 for colour, each 0 to 255.",
         "Networks learn best when their inputs are small and centred on zero, so the pixels "
         "are rescaled first – the week-3 notes use x/255 − 0.5, which maps 0…255 to −0.5…0.5. "
         "The playground does the same job with each dataset's own mean and spread, and keeps "
         "those numbers inside the exported model so it still takes raw pictures."),
        Question("A pixel of value 51 after x/255 − 0.5 becomes…",
                 ("0.2", "−0.3", "−0.5", "51"), 1, "51/255 = 0.2, and 0.2 − 0.5 = −0.3."),
        "playground:new", "Open the builder",
        widget="normalise",
        see="Move the pixel value: 0 lands on −0.5, 255 on +0.5, and 127.5 on zero."),
    Lesson(
        "conv-dot-product", "A convolution is a dot product", W1,
        ("A convolution slides a small grid of weights, the kernel, over the picture. At each "
         "place it multiplies the kernel with the patch of pixels under it, element by "
         "element, and adds the products up: one output number per position.",
         "Strictly this is cross-correlation (the kernel is not flipped), which is what every "
         "deep-learning library calls convolution. Because the same kernel is used everywhere, "
         "moving the picture moves the output the same way: convolution is translation "
         "equivariant."),
        Question("A 3×3 kernel of all ones placed on a patch of all twos gives…",
                 ("2", "6", "9", "18"), 3, "Nine products of 1 × 2 = 2, summed: 18."),
        "playground:new", "Open the builder",
        widget="conv", widget_options={"kernel": "vertical"},
        see="Hover any output pixel: the patch, the nine products and their sum appear, and "
            "the sum is exactly the value drawn at that pixel."),
    Lesson(
        "edges", "Edges: hand-set filters on your own picture", W1,
        ("Before any learning, one can write a kernel by hand that answers a question. "
         "[[1, 0, −1], [1, 0, −1], [1, 0, −1]] asks \"is it brighter on the left than on the "
         "right here?\": large where a vertical edge is, zero on flat areas.",
         "Sobel and Scharr weigh the middle row more, which makes them less sensitive to "
         "noise; the transposed kernel finds horizontal edges. A trained net's first layer "
         "ends up with filters much like these – the net finds them itself."),
        Question("On a region of constant brightness a vertical-edge kernel answers…",
                 ("0", "the brightness", "1", "a large positive number"), 0,
                 "Its weights add up to zero, so equal pixels cancel exactly."),
        "playground:new", "Train a net and look at its first-layer filters",
        widget="conv", widget_options={"kernel": "sobel_x"},
        see="With Sobel or the vertical-edge kernel, only the vertical outlines of the "
            "picture light up; switch to horizontal and the other outlines do."),
    Lesson(
        "padding-stride", "Padding and stride", W1,
        ("A f×f kernel fits n − f + 1 times across n pixels, so every layer shrinks the "
         "picture and the border pixels are used less. Padding p adds zeros around the "
         "picture: \"valid\" means none, \"same\" means p = (f − 1)/2, which keeps the size.",
         "The stride s is the step between positions. Together: out = ⌊(n + 2p − f)/s⌋ + 1."),
        Question("A 7×7 picture, a 3×3 kernel, padding 0, stride 2: the output is…",
                 ("2×2", "3×3", "4×4", "5×5"), 1, "⌊(7 + 0 − 3)/2⌋ + 1 = 3."),
        "playground:new", "Open the builder (its table shows this arithmetic per layer)",
        widget="outsize",
        see="Change n, f, p and s: the output size follows ⌊(n + 2p − f)/s⌋ + 1, and the "
            "convolution step-through above shows the same size on a real picture."),
    Lesson(
        "volumes", "Convolutions over volumes", W1,
        ("A colour picture is W × H × 3, so a kernel is f × f × 3: it spans every input "
         "channel and still gives one number per position. A layer with k kernels gives "
         "k output maps – an output volume of depth k.",
         "One layer: the k maps, each plus its bias, through a non-linearity. Its parameters "
         "are (f·f·c_in + 1)·k, whatever the picture's size."),
        Question("Ten 3×3 kernels over an RGB picture have how many parameters (with biases)?",
                 ("90", "100", "270", "280"), 3, "(3·3·3 + 1)·10 = 280."),
        "playground:new", "Open the builder",
        widget="params", widget_options={"mode": "volume"},
        see="The conv layer's count depends on f, c_in and k only – not on the picture's size."),
    Lesson(
        "fc-vs-conv", "Why not a fully connected layer? 26 against 8.1 × 10⁹", W1,
        ("A dense layer connects every input to every output. From a 300×300 picture to a "
         "300×300 map that is 300⁴ = 8.1 × 10⁹ weights – more than any machine learns well "
         "from any data set.",
         "A conv layer shares one 5×5 kernel across all positions: 25 weights and a bias, 26 "
         "in all. Sharing is the assumption that what matters in one place of a picture "
         "matters in any other."),
        Question("The conv layer's count changes from 26 when the picture grows to 600×600?",
                 ("Yes, ×4", "Yes, ×16", "No"), 2,
                 "The kernel is shared by every position: the picture's size is not in it."),
        "playground:new", "Open the builder",
        widget="params", widget_options={"mode": "course"},
        see="With the course's numbers (300×300 in and out, a 5×5 kernel): 26 for the conv, "
            "8.1 × 10⁹ for the dense layer."),
    Lesson(
        "pooling", "Pooling", W1,
        ("A pooling layer slides a window like a convolution but has no kernel: it keeps the "
         "largest value (max) or the mean (average). It makes maps smaller and features a "
         "little more tolerant of small shifts.",
         "It has nothing to learn, but it still shapes the gradient: in max pooling only the "
         "input that was the maximum gets any gradient, the others none."),
        Question("How many parameters does a 2×2 max-pooling layer learn?",
                 ("0", "4", "5", "one per channel"), 0, "It has no weights at all."),
        "playground:new", "Open the builder",
        widget="outsize", widget_options={"f": 2, "s": 2, "p": 0, "n": 28},
        see="A 2×2 pool with stride 2 halves each side: 28 → 14."),
    Lesson(
        "receptive-field", "The receptive field grows with depth", W1,
        ("One unit of a 3×3 conv sees 3×3 pixels. A unit of the next 3×3 layer sees 3×3 "
         "units of the first, which together cover 5×5 pixels; after n layers, 2n + 1.",
         "Pooling and strides make it grow faster: each later layer's window counts in "
         "steps of the product of the earlier strides."),
        Question("Four stacked 3×3 convs (stride 1): one unit of the last sees…",
                 ("9×9", "12×12", "7×7", "3×3"), 0, "2·4 + 1 = 9."),
        "playground:new", "Open the builder (its table has a receptive-field column)",
        widget="receptive",
        see="Add 3×3 layers: 3, 5, 7, 9 …; put a 2×2 pool in and the growth doubles after it."),
    Lesson(
        "vanishing-gradients", "Activations and vanishing gradients", W2,
        ("The sigmoid's slope is at most 1/4. Back-propagation multiplies one such factor "
         "per layer, so in a deep stack of sigmoids the gradient reaching the first layers "
         "is many powers of ten smaller than at the top: they barely learn.",
         "ReLU's slope is 1 for positive inputs, and batch norm keeps each layer's inputs in "
         "a useful range: the same depth then passes the gradient down."),
        Question("With eight sigmoid layers the gradient's scale can shrink by at most…",
                 ("(1/4)⁸ ≈ 1.5 × 10⁻⁵", "1/8", "8 × 1/4", "nothing: it is exact"), 0,
                 "Each layer multiplies by σ' ≤ 1/4 (and by its weights)."),
        "playground:new", "Open the first run in the builder",
        experiment="vanishing",
        see="The sigmoid net's first layer ends with a gradient at least 100× smaller than "
            "its last layer's, and it stays near chance; the ReLU + batch-norm net's two "
            "norms are within a small factor and it learns."),
    Lesson(
        "init", "Initialisation: why not zeros", W2,
        ("If every weight starts at zero, every unit of a layer computes the same thing and "
         "gets the same update: they never become different, and with ReLU they get no "
         "gradient at all.",
         "Small random weights break the symmetry. Their scale matters too: with n inputs, "
         "n·Var(w) ≈ 1 keeps the signal's variance from growing or dying layer after layer; "
         "He initialisation uses Var(w) = 2/n for ReLU."),
        Question("He initialisation for a unit with 50 inputs draws weights with variance…",
                 ("0.04", "0.02", "1", "50"), 0, "2/n = 2/50 = 0.04."),
        "playground:new", "Open the first run in the builder",
        experiment="init",
        see="The all-zeros net's first-layer gradient is exactly 0 and its accuracy stays "
            "near chance (10 %); the same net with He initialisation learns."),
    Lesson(
        "batch-norm", "Batch normalisation", W2,
        ("Batch norm normalises each channel over the batch (subtract the batch mean, divide "
         "by its standard deviation), then scales by γ and shifts by β, both learnt. For "
         "prediction it uses running averages of the mean and variance.",
         "It is differentiable, so it trains with the rest. The vanishing-gradient lesson's "
         "second net is exactly this cure."),
        Question("How many learnt numbers does batch norm add per channel?",
                 ("0", "1", "2", "4"), 2,
                 "γ and β; the running mean and variance are measured, not learnt."),
        "playground:new", "Add a batchnorm layer in the builder",
        see="Run the vanishing-gradient lesson's experiment: the batch-norm net's first "
            "layer keeps its gradient."),
    Lesson(
        "dropout-augmentation", "Dropout and data augmentation", W2,
        ("Dropout switches off a random fraction of units at every training step, so no unit "
         "can rely on another: a regulariser against over-fitting.",
         "Augmentation makes more training pictures from the ones there are – flips, small "
         "rotations and shifts, colour changes – as long as the label stays true: a flipped "
         "cat is a cat, a flipped 6 is not quite a 6."),
        Question("Which augmentation is wrong for handwritten digits?",
                 ("a shift of 2 pixels", "a 10° rotation", "a vertical flip"), 2,
                 "A vertical flip turns 6 into something like a 9."),
        "playground:new", "Open the builder (augmentation is under the training settings)"),
    Lesson(
        "classic-nets", "Classic nets: LeNet-5, AlexNet, VGG", W2,
        ("LeNet-5 (1998): two conv + average-pool stages and small dense layers, tanh. "
         "AlexNet (2012): the first deep ConvNet on ImageNet – wide early kernels, ReLU, max "
         "pooling, dropout, augmentation. VGG (2015): only 3×3 convs, two or three per stage, "
         "the channels doubling after each pool.",
         "The builder has scaled-down presets of all three."),
        Question("Two stacked 3×3 convs see as far as one…",
                 ("5×5", "6×6", "9×9", "3×3"), 0,
                 "2·2 + 1 = 5, with fewer weights than a 5×5 (2·9 against 25 per channel pair)."),
        "playground:new", "Open the builder and pick a preset"),
    Lesson(
        "resnet", "ResNets: the shortcut", W2,
        ("A residual block adds its input to its output: y = F(x) + x. If the best thing a "
         "block can do is nothing, it only has to learn F = 0, which is easy; and the "
         "gradient flows back through the shortcut undiminished.",
         "Without shortcuts, making a plain net deeper can make it train worse – not from "
         "over-fitting but because it is harder to optimise."),
        Question("A residual block whose weights are all zero computes…",
                 ("zero", "its input, passed through", "noise"), 1,
                 "F(x) = 0, so y = x (after the final ReLU, x for x ≥ 0)."),
        "playground:new", "Open the first run in the builder",
        experiment="residual",
        see="At the same depth (15 convs with batch norm) and the same training, the residual "
            "net ends clearly above the plain one in validation accuracy."),
    Lesson(
        "one-by-one-inception", "1×1 convolutions and Inception", W2,
        ("A 1×1 convolution mixes the channels of one pixel: it is a dense layer applied at "
         "every position, and the cheap way to shrink 192 channels to 16 before an expensive "
         "3×3 or 5×5.",
         "An Inception block runs 1×1, 3×3, 5×5 (or two 3×3) and a pooling branch side by "
         "side and concatenates their maps along the depth."),
        Question("A 1×1 conv from 192 channels to 16 (with biases) has how many parameters?",
                 ("16", "192", "3,088", "3,072"), 2, "(1·1·192 + 1)·16 = 3,088."),
        "playground:new", "Open the builder (preset: Inception)",
        widget="params", widget_options={"mode": "volume", "f": 1, "cin": 192, "k": 16}),
    Lesson(
        "depthwise-separable", "Depthwise-separable convolutions (MobileNet)", W2,
        ("A normal conv does the spatial filtering and the mixing of channels in one go. A "
         "depthwise-separable conv splits them: one f×f filter per input channel "
         "(depthwise), then a 1×1 conv to n_c' outputs (pointwise).",
         "Its cost against the normal conv is 1/n_c' + 1/f² – for 3×3 kernels and many "
         "outputs, roughly a ninth. In the builder: a conv2d whose groups, filters and input "
         "channels are equal (depthwise), then a 1×1 conv2d; the summary's arithmetic column "
         "shows the pair against a plain conv."),
        Question("With 3×3 kernels and 9 output channels the cost ratio is…",
                 ("1/9", "2/9", "1/3", "1"), 1, "1/9 + 1/9 = 2/9."),
        "playground:new", "Open the builder",
        widget="separable",
        see="With the course's example (6×6×3 in, 3×3, 5 filters): 2,160 multiplications "
            "for the normal conv, 432 + 240 = 672 separable, a ratio of 0.31 = 1/5 + 1/9."),
    Lesson(
        "transfer-learning", "Transfer learning and fine-tuning", W3,
        ("A net trained on ImageNet has learnt a general feature extractor. Keep its early "
         "layers, put a new head on top and train only the head: with few pictures this beats "
         "training from scratch by far.",
         "Fine-tuning goes further: it also trains the last borrowed layers, starting from "
         "their ImageNet values, at a smaller learning rate."),
        Question("With 10 pictures per class, which usually wins?",
                 ("training from scratch", "frozen pretrained features + a new head"), 1,
                 "The borrowed features already separate shapes; scratch has to learn them "
                 "from 10 examples."),
        "playground:transfer", "Open transfer learning (scratch vs frozen vs fine-tune)",
        experiment="transfer",
        see="With only 10 training pictures per class, the net on frozen VGG19 features "
            "ends at least 5 points above the same net trained from random weights."),
    Lesson(
        "what-convnets-learn", "What ConvNets learn", W3,
        ("Early units respond to edges and colour blobs, later ones to textures, parts and "
         "whole objects – seen by finding the picture patches that excite a unit most, or by "
         "optimising a picture to excite it.",
         "Grad-CAM shows where in one picture the evidence for a class was."),
        Question("Which layer's units respond to larger, more complex patterns?",
                 ("the first", "a deep one"), 1, "Their receptive field is larger."),
        "playground:gallery", "Open the VGG19 unit gallery"),
    Lesson(
        "localisation", "Localisation and landmarks", W3,
        ("Classification with localisation adds four outputs to the classifier – the box's "
         "centre, width and height – and trains them with a squared error next to the "
         "cross-entropy of the class: the loss is the sum of the two.",
         "Landmarks are the same idea with points: the net outputs the x, y of each."),
        Question("Besides the class scores, a localisation head outputs how many numbers per box?",
                 ("2", "4", "8"), 1, "bx, by, bh, bw."),
        "playground:new", "Open the builder (task: localise, dataset: boxes)"),
    Lesson(
        "sliding-windows", "From sliding windows to one conv pass", W3,
        ("Running a classifier on every crop of a picture repeats almost all of the work. "
         "Written as convolutions (a dense layer is a conv whose kernel covers its whole "
         "input), the net can run once over the whole picture and each output pixel is the "
         "answer for one window."),
        Question("A dense layer on a 5×5×16 input is the same as a conv with kernel…",
                 ("1×1", "5×5", "16×16"), 1, "A 5×5×16 kernel covers the whole input."),
        "detection:new", "Open detection (sliding windows against the conv pass)"),
    Lesson(
        "yolo", "YOLO: one pass, a grid, anchors and NMS", W3,
        ("YOLO puts a grid over the picture; each cell predicts boxes (for a few anchor "
         "shapes) with an objectness and class scores, in one forward pass.",
         "Boxes are compared by intersection over union; non-max suppression keeps the best "
         "box of each object and drops the others that overlap it too much."),
        Question("Two boxes of area 4 overlapping in area 2 have an IoU of…",
                 ("1/2", "1/3", "2/8"), 1, "2 / (4 + 4 − 2) = 1/3."),
        "detection:new", "Open detection and its X-ray"),
    Lesson(
        "region-proposals", "Region proposals (R-CNN)", W3,
        ("R-CNN works in two stages. First it proposes regions that may hold an object, "
         "without knowing any object: the picture is cut into regions of like colour (a graph "
         "segmentation), and the two most alike neighbouring regions are merged again and "
         "again (selective search); every region on the way gives a box. Then each proposed "
         "region is cropped, warped to the classifier's input size and classified on its own.",
         "YOLO does the whole picture in one pass. Detection's two-stage demo uses the same "
         "YOLOv3-tiny network as its classifier (a region's class is the best score in its "
         "crop), so the two differ only in the pipeline: one network pass per region against "
         "one pass for the picture."),
        Question("Compared with YOLO, R-CNN runs the classifier…",
                 ("once per picture", "once per proposed region"), 1,
                 "Each proposal is classified on its own: 70 proposals are 70 network passes."),
        "detection:new",
        "Open detection and tick “Region proposals (two stages) vs one pass”",
        see="Send one picture with the two-stage option ticked. The job page draws the "
            "proposals (white boxes) and what classifying them found beside YOLO's boxes, "
            "with each way's network passes, multiply-adds and time: as many passes as "
            "proposals (about 70 on the oranges crop of the flower photo, 0.41 G "
            "multiply-adds each at 160 × 160) against one pass of 2.8 G, so the two stages "
            "do about 10× the arithmetic and take some 20–30× the time, the segmentation "
            "included. Look too at what the two stages find that YOLO does not: a region "
            "seen alone has lost its context."),
    Lesson(
        "segmentation", "Segmentation and unpooling", W3,
        ("Segmentation gives every pixel a class, so the output must be as large as the input. "
         "Pooling shrinks; something must grow the maps back: nearest-neighbour upsampling "
         "(blocky), max unpooling (put each value back where the pool found its maximum) or a "
         "learnt transposed convolution."),
        Question("Max unpooling puts each value…",
                 ("in every cell of its window", "where the max was, zeros elsewhere"), 1,
                 "The pool remembered the position of its maximum."),
        "playground:new", "Open the builder (task: segment, dataset: overlaps)"),
    Lesson(
        "verification", "Verification, one-shot learning and the triplet loss", W4,
        ("Face verification cannot retrain for every new person. Instead a net maps each "
         "picture to an embedding, and two pictures are the same person when their "
         "embeddings are close.",
         "The triplet loss pulls an anchor towards a positive (same identity) and away from a "
         "negative by at least a margin α. The studio trains it on digits (no face set ships "
         "in a package), verifying digits it never saw."),
        Question("The triplet loss is zero when d(A, P) + α ≤ …",
                 ("d(A, N)", "d(P, N)", "0"), 0, "max(d(A,P) − d(A,N) + α, 0)."),
        "playground:new", "Open the builder (task: verify)"),
    Lesson(
        "style-transfer", "Neural style transfer", W4,
        ("Style transfer optimises a picture, not a net: its deep VGG features should match "
         "the photo's (content) and the correlations between its feature channels – Gram "
         "matrices – should match the painting's (style).",
         "The loss can read any layer, not just the last."),
        Question("A Gram matrix of a layer with 64 channels is…",
                 ("64×64", "H×W", "64×H×W"), 0, "One correlation per pair of channels."),
        "styletransfer:new", "Open style transfer"),
    Lesson(
        "conv-1d-3d", "1D and 3D convolutions", W4,
        ("The same sliding dot product works on a signal (1D: a kernel of length f along "
         "time) and on a volume or a clip (3D: f×f×f). The size arithmetic is the same per "
         "axis: the course's 14-sample signal through 16 kernels of length 5 gives 10×16, "
         "then 32 kernels of length 5 give 6×32.",
         "The playground's engine has conv1d and conv3d layers with this arithmetic in its "
         "summary; it has no built-in signal or volume dataset yet, so there is nothing of "
         "that shape to train here."),
        Question("A 14-sample signal through a length-5 kernel (valid, stride 1) gives…",
                 ("10", "9", "14"), 0, "14 − 5 + 1 = 10."),
        "playground:new", "Open the builder",
        widget="outsize", widget_options={"n": 14, "f": 5, "p": 0, "s": 1}),
)

BY_SLUG = {lesson.slug: lesson for lesson in LESSONS}
