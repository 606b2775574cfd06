# The methods benchmark configs pick from, with their table names (one place to rename or re-configure
# one). A config inherits this file and lists what it compares, e.g.
#   _base_ = ["../_base_/methods.py"]
#   methods = [_base_._IR_ONLY, _base_._VIS_ONLY, _base_._AVERAGE, _base_._SAGE_STUDENT]
# (names starting with "_" are helpers, not config keys).
_IR_ONLY = dict(name="IR only", type="ir_only")
_VIS_ONLY = dict(name="VIS only", type="vis_only")
_AVERAGE = dict(name="Average", type="average")
_MAX_ABS = dict(name="Max-abs", type="max_abs")
_LAPLACIAN = dict(name="Laplacian pyramid", type="laplacian_pyramid")
_SEAFUSION = dict(name="SeAFusion", type="seafusion")
_TARDAL = dict(name="TarDAL", type="tardal")
_SAGE_STUDENT = dict(name="SAGE student", type="sage_student")
_GFF = dict(name="GFF", type="gff")
_DWT = dict(name="DWT", type="dwt")
_MSVD = dict(name="MSVD", type="msvd")
_TIF = dict(name="TIF", type="tif")
_DENSEFUSE = dict(name="DenseFuse", type="densefuse")
_DENSEFUSE_L1 = dict(name="DenseFuse (l1)", type="densefuse", strategy="l1_norm")
_DIDFUSE = dict(name="DIDFuse", type="didfuse")
_IFCNN = dict(name="IFCNN", type="ifcnn_max")
_DATFUSE = dict(name="DATFuse", type="datfuse")
_LRRNET = dict(name="LRRNet", type="lrrnet")
_SHIP = dict(name="SHIP", type="ship")
_U2FUSION = dict(name="U2Fusion", type="u2fusion")
