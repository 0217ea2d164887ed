//! Member identifiers as types that can only hold valid values (NIK, KPJ, e-mail, phone, code).
