"""The colours of the memory picture, shared by the picture's data and its SVG and PNG drawings."""

#: Colours of the tensors named in the legend, then of all other tensors.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#86bcb6")
OTHER = "#c7c7c7"
