"""Running one job (a point, or every s of one IMP trajectory): its objects, its training, its
result fields and its exported network.
"""
