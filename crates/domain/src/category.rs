//! The built-in category tree. Ids are slash paths (`electronics/phones`); names are English and
//! Chinese. Products name a category by id or by display path (`Electronics > Phones`).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    pub id: &'static str,
    pub name: &'static str,
    pub name_zh: &'static str,
}

/// Parents come before their children; a child's id extends its parent's.
const TREE: &[Category] = &[
    c("electronics", "Electronics", "电子产品"),
    c("electronics/phones", "Phones", "手机"),
    c("electronics/phone-accessories", "Phone Accessories", "手机配件"),
    c("electronics/computers", "Computers", "电脑"),
    c("electronics/audio", "Audio", "音频设备"),
    c("electronics/cameras", "Cameras", "相机"),
    c("electronics/smart-home", "Smart Home", "智能家居"),
    c("fashion", "Fashion", "服装服饰"),
    c("fashion/womens-clothing", "Women's Clothing", "女装"),
    c("fashion/mens-clothing", "Men's Clothing", "男装"),
    c("fashion/shoes", "Shoes", "鞋靴"),
    c("fashion/bags", "Bags", "箱包"),
    c("fashion/jewelry", "Jewelry", "珠宝首饰"),
    c("fashion/watches", "Watches", "手表"),
    c("home", "Home & Garden", "家居园艺"),
    c("home/furniture", "Furniture", "家具"),
    c("home/kitchen", "Kitchen", "厨房用品"),
    c("home/bedding", "Bedding", "床上用品"),
    c("home/decor", "Decor", "家居装饰"),
    c("home/garden", "Garden", "园艺"),
    c("home/tools", "Tools", "五金工具"),
    c("beauty", "Beauty & Health", "美妆个护"),
    c("beauty/skincare", "Skincare", "护肤"),
    c("beauty/makeup", "Makeup", "彩妆"),
    c("beauty/hair-care", "Hair Care", "美发护发"),
    c("beauty/health", "Health", "保健"),
    c("sports", "Sports & Outdoors", "运动户外"),
    c("sports/fitness", "Fitness", "健身器材"),
    c("sports/cycling", "Cycling", "骑行"),
    c("sports/camping", "Camping", "露营"),
    c("sports/sportswear", "Sportswear", "运动服"),
    c("toys", "Toys & Baby", "玩具母婴"),
    c("toys/toys", "Toys", "玩具"),
    c("toys/baby", "Baby", "母婴用品"),
    c("food", "Food & Drink", "食品饮料"),
    c("food/tea", "Tea", "茶叶"),
    c("food/snacks", "Snacks", "零食"),
    c("food/coffee", "Coffee", "咖啡"),
    c("automotive", "Automotive", "汽车用品"),
    c("automotive/parts", "Parts", "汽车配件"),
    c("automotive/accessories", "Accessories", "汽车装饰"),
    c("industrial", "Industrial & B2B", "工业品"),
    c("industrial/machinery", "Machinery", "机械设备"),
    c("industrial/packaging", "Packaging", "包装材料"),
    c("industrial/electrical", "Electrical", "电工电气"),
    c("industrial/raw-materials", "Raw Materials", "原材料"),
    c("books", "Books & Media", "图书音像"),
    c("books/books", "Books", "图书"),
    c("books/music", "Music", "音乐"),
];

const fn c(id: &'static str, name: &'static str, name_zh: &'static str) -> Category {
    Category { id, name, name_zh }
}

impl Category {
    pub fn all() -> &'static [Category] {
        TREE
    }

    pub fn by_id(id: &str) -> Option<Category> {
        TREE.iter().find(|c| c.id == id).copied()
    }

    /// Finds a category by id, or by display path in English or Chinese, ignoring case and the
    /// spacing around `>`: "electronics/phones", "Electronics > Phones", "电子产品>手机".
    pub fn resolve(text: &str) -> Option<Category> {
        let text = text.trim();
        if let Some(c) = Category::by_id(text) {
            return Some(c);
        }
        let wanted: Vec<String> = text.split('>').map(|p| p.trim().to_lowercase()).collect();
        TREE.iter()
            .find(|c| {
                let en: Vec<String> = c.lineage().map(|a| a.name.to_lowercase()).collect();
                let zh: Vec<String> = c.lineage().map(|a| a.name_zh.to_string()).collect();
                en == wanted || zh == wanted
            })
            .copied()
    }

    pub fn parent(&self) -> Option<Category> {
        self.id.rsplit_once('/').and_then(|(p, _)| Category::by_id(p))
    }

    /// The category and its ancestors, root first.
    pub fn lineage(&self) -> impl Iterator<Item = Category> {
        let mut chain = vec![*self];
        while let Some(p) = chain.last().and_then(|c| c.parent()) {
            chain.push(p);
        }
        chain.into_iter().rev()
    }

    pub fn path(&self) -> String {
        self.lineage().map(|c| c.name).collect::<Vec<_>>().join(" > ")
    }

    /// The path in Chinese names.
    pub fn path_zh(&self) -> String {
        self.lineage().map(|c| c.name_zh).collect::<Vec<_>>().join(" > ")
    }

    pub fn children(&self) -> impl Iterator<Item = Category> + '_ {
        TREE.iter().filter(move |c| c.parent().is_some_and(|p| p.id == self.id)).copied()
    }

    pub fn roots() -> impl Iterator<Item = Category> {
        TREE.iter().filter(|c| !c.id.contains('/')).copied()
    }

    /// Leaf categories: where products are normally listed.
    pub fn leaves() -> impl Iterator<Item = Category> {
        TREE.iter().filter(|c| c.children().next().is_none()).copied()
    }
}

/// The tree as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CategoryNode {
    pub id: String,
    pub name: String,
    pub name_zh: String,
    pub path: String,
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub children: Vec<CategoryNode>,
}

impl CategoryNode {
    pub fn tree() -> Vec<CategoryNode> {
        fn node(c: Category) -> CategoryNode {
            CategoryNode {
                id: c.id.into(),
                name: c.name.into(),
                name_zh: c.name_zh.into(),
                path: c.path(),
                children: c.children().map(node).collect(),
            }
        }
        Category::roots().map(node).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_is_well_formed() {
        for (i, c) in TREE.iter().enumerate() {
            if let Some((parent, _)) = c.id.rsplit_once('/') {
                let p = TREE.iter().position(|x| x.id == parent).expect("parent exists");
                assert!(p < i, "{} listed before its parent", c.id);
            }
            assert_eq!(TREE.iter().filter(|x| x.id == c.id).count(), 1, "duplicate {}", c.id);
        }
    }

    #[test]
    fn resolves_ids_and_paths() {
        let phones = Category::by_id("electronics/phones").unwrap();
        assert_eq!(phones.path(), "Electronics > Phones");
        assert_eq!(Category::resolve("Electronics > Phones"), Some(phones));
        assert_eq!(Category::resolve("electronics>PHONES"), Some(phones));
        assert_eq!(Category::resolve("电子产品 > 手机"), Some(phones));
        assert_eq!(Category::resolve("Phones"), None);
        assert_eq!(Category::resolve("Electronics").map(|c| c.id), Some("electronics"));
        assert_eq!(CategoryNode::tree().len(), Category::roots().count());
        assert!(Category::leaves().all(|c| c.id.contains('/')));
    }
}
