//! The columns of the generated models as data, listed by the generated `all_columns`.

use sea_orm::sea_query::ColumnType;
use sea_orm::{ColumnTrait, EntityTrait, IdenStatic, Iterable};

/// One column of a generated model.
#[derive(Clone, Debug)]
pub struct ModelColumn {
    /// Its table.
    pub table: &'static str,
    /// Its name.
    pub name: &'static str,
    /// Its type, as the model declares it.
    pub column_type: ColumnType,
    /// Whether the model reads NULL here (an `Option` field).
    pub nullable: bool,
}

impl ModelColumn {
    /// Every column of entity `E`'s model, in the model's order.
    pub fn of<E: EntityTrait>() -> Vec<Self> {
        let table = E::default().table_name();
        E::Column::iter()
            .map(|c| {
                let def = c.def();
                Self { table, name: c.as_str(), column_type: def.get_column_type().clone(), nullable: def.is_null() }
            })
            .collect()
    }
}
